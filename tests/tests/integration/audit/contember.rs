//! Contember's event log: the event fields (`id`, `type`, `createdAt`,
//! `appliedAt`, `identityId`, `identityDescription`, `tableName`, `primaryKey`,
//! `oldValues`, `diffValues`, `newValues`), `EventsArgs` (`stage`, `filter`,
//! `order`, `offset`, `limit`) and every `EventsFilter` field (`types`, `rows`,
//! `tables`, `transactions`, `identities`, `createdAt`, `appliedAt`).

use events_core::audit::{AuditEntry, AuditQuery, EntryKind, ManualEntry, Order, composite_key};
use events_core::{Key, event_log};
use events_postgres::{AuditLog, PgEventStore};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::fixture::{Log, Member, Project, Rename, Service, TestResult, actions, project, setup};

/// A log with string record ids, where composite keys live.
#[event_log(record_id_type = string, table = "string_events")]
pub struct StringLog;

fn ids(entries: &[AuditEntry]) -> Vec<events_core::EventId> {
    entries.iter().map(|e| e.id).collect()
}

/// Writes two manual entries in overlapping transactions so that commit order
/// differs from creation order: `first` is created first and commits last.
async fn crossed(
    pool: &PgPool,
    audit: &AuditLog<Log>,
    first: ManualEntry<Log>,
    second: ManualEntry<Log>,
) -> Result<(AuditEntry, AuditEntry), Box<dyn std::error::Error>> {
    let mut t1 = pool.begin().await?;
    let a = audit.track_in(&mut t1, first).await?.ok_or("tracked")?;
    let mut t2 = pool.begin().await?;
    let b = audit.track_in(&mut t2, second).await?.ok_or("tracked")?;
    t2.commit().await?;
    t1.commit().await?;
    Ok((a, b))
}

/// Every event field, and `oldValues` / `diffValues` / `newValues` per type:
/// `newValues` on creates, `oldValues` on updates and deletes, `diffValues` on
/// updates.
#[sqlx::test(migrations = false)]
async fn event_fields_and_old_diff_new_values(pool: PgPool) -> TestResult {
    let (store, audit) = setup(&pool).await?;
    let member = Member::new();
    let p = Project::create(super::fixture::NewProject {
        name: "Apollo".into(),
    })
    .actor(&member)
    .run(&store)
    .await?;
    Project::rename(
        p.id,
        Rename {
            name: "Artemis".into(),
        },
    )
    .actor(&member)
    .run(&store)
    .await?;
    Project::delete(p.id, ()).run(&store).await?;

    let events = audit
        .list(&AuditQuery::new().order(Order::OccurredAsc))
        .await?;
    let [create, update, delete] = events.as_slice() else {
        return Err(format!("three events, got {events:?}").into());
    };
    assert_eq!(
        (create.kind, update.kind, delete.kind),
        (EntryKind::Create, EntryKind::Update, EntryKind::Destroy)
    );
    for e in &events {
        assert_eq!(e.resource.as_deref(), Some("project"), "tableName");
        assert_eq!(e.record_id, Some(Key::Uuid(p.id)), "primaryKey");
        let applied = e.committed_at.ok_or("appliedAt")?;
        assert!(applied >= e.occurred_at, "applied after created");
    }
    let actor = create.actor.as_ref().ok_or("identity")?;
    assert_eq!(actor.key, Key::Uuid(member.0), "identityId");
    assert_eq!(
        actor.description(),
        format!("Member {}", member.0),
        "identityDescription"
    );

    assert_eq!(
        create.new_values().cloned().map(serde_json::Value::Object),
        Some(json!({"id": p.id, "name": "Apollo", "status": "active"}))
    );
    assert_eq!((create.old_values(), create.diff_values()), (None, None));
    assert_eq!(
        update.old_values().cloned().map(serde_json::Value::Object),
        Some(json!({"id": p.id, "name": "Apollo", "status": "active"}))
    );
    assert_eq!(
        update.diff_values().cloned().map(serde_json::Value::Object),
        Some(json!({"name": "Artemis"}))
    );
    assert_eq!(update.new_values(), None);
    assert_eq!(
        delete.old_values().cloned().map(serde_json::Value::Object),
        Some(json!({"id": p.id, "name": "Artemis", "status": "active"}))
    );
    assert_eq!((delete.new_values(), delete.diff_values()), (None, None));
    Ok(())
}

/// The documented example: the last 100 events creating an article, by
/// `APPLIED_AT_DESC` (`types: [CREATE]`, `tables: ["article"]`, `limit: 100`).
#[sqlx::test(migrations = false)]
async fn last_creates_of_a_table_by_applied_at(pool: PgPool) -> TestResult {
    let (store, audit) = setup(&pool).await?;
    let early = ManualEntry::new("article.created").resource("article", Uuid::now_v7());
    let late = ManualEntry::new("article.created").resource("article", Uuid::now_v7());
    let (created_first, committed_first) = crossed(&pool, &audit, early, late).await?;
    project(&store, "not an article").await?;
    audit
        .track(ManualEntry::new("article.updated").resource("article", Uuid::now_v7()))
        .await?;
    let kind: EntryKind = "CREATE".parse()?;
    let q = AuditQuery::new()
        .kinds([kind, EntryKind::Manual])
        .action_prefix("article.created")
        .resources(["article"])
        .order(Order::CommittedDesc)
        .offset(0)
        .limit(100);
    let page = audit.query(&q).await?;
    assert_eq!(
        ids(&page.entries),
        [created_first.id, committed_first.id],
        "the entry created first committed last"
    );
    let by_created = audit.list(&q.clone().order(Order::OccurredDesc)).await?;
    assert_eq!(ids(&by_created), [committed_first.id, created_first.id]);
    let creates = audit
        .list(
            &AuditQuery::new()
                .kinds(["CREATE".parse()?])
                .resources(["project"]),
        )
        .await?;
    assert_eq!(actions(&creates), ["create"]);
    Ok(())
}

/// `rows: [{tableName, primaryKey}]`, including a composite primary key.
#[sqlx::test(migrations = false)]
async fn rows_match_table_and_primary_key_including_composite(pool: PgPool) -> TestResult {
    let (store, audit) = setup(&pool).await?;
    let (a, b) = (project(&store, "A").await?, project(&store, "B").await?);
    Project::rename(a.id, Rename { name: "A2".into() })
        .run(&store)
        .await?;
    audit
        .track(ManualEntry::new("project.viewed").resource("project", b.id))
        .await?;
    let rows = audit
        .list(
            &AuditQuery::new()
                .record("project", a.id)
                .record("project", b.id.to_string()),
        )
        .await?;
    assert_eq!(
        actions(&rows),
        ["project.viewed", "rename", "create", "create"]
    );
    assert!(
        audit
            .list(&AuditQuery::new().record("post", a.id))
            .await?
            .is_empty(),
        "the table must match too"
    );

    // Composite keys (a junction row), in a log with string record ids.
    let strings = PgEventStore::<StringLog>::new(pool.clone());
    strings.migrate().await?;
    let junction = strings.audit();
    let key = composite_key(["post-1", "tag-9"]);
    junction
        .track(ManualEntry::new("post_tag.added").resource("post_tag", key.clone()))
        .await?;
    junction
        .track(
            ManualEntry::new("post_tag.added")
                .resource("post_tag", composite_key(["post-1", "tag-8"])),
        )
        .await?;
    let found = junction
        .list(&AuditQuery::new().record("post_tag", key.clone()))
        .await?;
    assert_eq!((found.len(), found[0].record_id.clone()), (1, Some(key)));
    Ok(())
}

/// `transactions: [..]`: everything one transaction wrote.
#[sqlx::test(migrations = false)]
async fn transactions_filter_selects_whole_transactions(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let mut tx = pool.begin().await?;
    let one = audit
        .track_in(&mut tx, ManualEntry::new("batch.one"))
        .await?
        .ok_or("tracked")?;
    let two = audit
        .track_in(&mut tx, ManualEntry::new("batch.two"))
        .await?
        .ok_or("tracked")?;
    tx.commit().await?;
    let alone = audit
        .track(ManualEntry::new("alone"))
        .await?
        .ok_or("tracked")?;
    assert_eq!(one.transaction_id, two.transaction_id);
    assert_ne!(one.transaction_id, alone.transaction_id);

    let batch = audit
        .list(
            &AuditQuery::new()
                .transaction(one.transaction_id)
                .order(Order::OccurredAsc),
        )
        .await?;
    assert_eq!(actions(&batch), ["batch.one", "batch.two"]);
    let both = audit
        .list(
            &AuditQuery::new()
                .transaction(one.transaction_id)
                .transaction(alone.transaction_id),
        )
        .await?;
    assert_eq!(both.len(), 3);
    assert!(
        audit
            .list(&AuditQuery::new().transaction(1))
            .await?
            .is_empty()
    );
    Ok(())
}

/// `identities: [..]`: actor ids as strings, in whichever actor column fits.
#[sqlx::test(migrations = false)]
async fn identities_match_any_actor_column(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let ada = Member::new();
    audit.track(ManualEntry::new("a").actor(&ada)).await?;
    audit
        .track(ManualEntry::new("b").actor(&Service("mailer")))
        .await?;
    audit
        .track(ManualEntry::new("c").actor(&Member::new()))
        .await?;
    let q = AuditQuery::new()
        .identity(ada.0.to_string())
        .identity("mailer")
        .order(Order::OccurredAsc);
    assert_eq!(actions(&audit.list(&q).await?), ["a", "b"]);
    // A UUID also fits the string column; a word fits only it.
    assert!(
        audit
            .list(&AuditQuery::new().identity("nobody"))
            .await?
            .is_empty()
    );
    Ok(())
}

/// `createdAt: {from, to}` and `appliedAt: {from, to}`.
#[sqlx::test(migrations = false)]
async fn created_at_and_applied_at_ranges(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let (first, second) = crossed(
        &pool,
        &audit,
        ManualEntry::new("first.created"),
        ManualEntry::new("second.created"),
    )
    .await?;
    let first = audit.get(first.id).await?;
    let second = audit.get(second.id).await?;
    let (c1, c2) = (
        first.committed_at.ok_or("applied")?,
        second.committed_at.ok_or("applied")?,
    );
    assert!(c2 < c1, "second committed first");

    let created = audit
        .list(&AuditQuery::new().since(second.occurred_at))
        .await?;
    assert_eq!(actions(&created), ["second.created"]);
    let applied = audit.list(&AuditQuery::new().committed_since(c1)).await?;
    assert_eq!(actions(&applied), ["first.created"]);
    let applied_before = audit.list(&AuditQuery::new().committed_until(c1)).await?;
    assert_eq!(actions(&applied_before), ["second.created"]);
    let both = audit
        .list(
            &AuditQuery::new()
                .committed_since(c2)
                .committed_until(c1)
                .until(second.occurred_at),
        )
        .await?;
    assert!(
        both.is_empty(),
        "second is excluded by createdAt, first by appliedAt"
    );
    Ok(())
}

/// `order`: `CREATED_AT_ASC`, `CREATED_AT_DESC`, `APPLIED_AT_ASC`,
/// `APPLIED_AT_DESC`, with `offset` and `limit`.
#[sqlx::test(migrations = false)]
async fn orders_with_offset_and_limit(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let (a, b) = crossed(&pool, &audit, ManualEntry::new("a"), ManualEntry::new("b")).await?;
    let c = audit.track(ManualEntry::new("c")).await?.ok_or("tracked")?;
    for (order, expected) in [
        (Order::OccurredAsc, [a.id, b.id, c.id]),
        (Order::OccurredDesc, [c.id, b.id, a.id]),
        (Order::CommittedAsc, [b.id, a.id, c.id]),
        (Order::CommittedDesc, [c.id, a.id, b.id]),
    ] {
        let q = AuditQuery::new().order(order).offset(0).limit(10);
        assert_eq!(ids(&audit.list(&q).await?), expected, "{order:?}");
    }
    let window = audit
        .list(
            &AuditQuery::new()
                .order(Order::CommittedAsc)
                .offset(1)
                .limit(1),
        )
        .await?;
    assert_eq!(ids(&window), [a.id]);
    Ok(())
}

/// `stage`: Contember's content stage partitions the log; here that is the tenant.
#[sqlx::test(migrations = false)]
async fn stage_is_the_tenant(pool: PgPool) -> TestResult {
    let (store, audit) = setup(&pool).await?;
    let (live, prelive) = (Uuid::now_v7(), Uuid::now_v7());
    Project::create(super::fixture::NewProject {
        name: "live".into(),
    })
    .tenant(live)
    .run(&store)
    .await?;
    audit
        .track(ManualEntry::new("page.published").tenant(live))
        .await?;
    audit
        .track(ManualEntry::new("page.drafted").tenant(prelive))
        .await?;
    let entries = audit.list(&AuditQuery::new().tenant(live)).await?;
    assert_eq!(actions(&entries), ["page.published", "create"]);
    let text = live.to_string();
    assert!(
        entries
            .iter()
            .all(|e| e.tenant.as_deref() == Some(text.as_str()))
    );
    assert_eq!(
        audit.list(&AuditQuery::new().tenant(text.as_str())).await?,
        entries
    );
    Ok(())
}

/// Without `track_commit_time` (the default), no commit time is written, entries
/// carry none, and a query by commit time is refused with a typed error that says
/// how to turn it on, instead of silently matching nothing.
#[sqlx::test(migrations = false)]
async fn applied_at_needs_track_commit_time(pool: PgPool) -> TestResult {
    use events_core::EventLog as _;
    const { assert!(!StringLog::TRACK_COMMIT_TIME) };
    const { assert!(Log::TRACK_COMMIT_TIME) };
    let store = PgEventStore::<StringLog>::new(pool.clone());
    store.migrate().await?;
    let audit = store.audit();
    audit.track(ManualEntry::new("note.added")).await?;
    let listed = audit.list(&AuditQuery::new()).await?;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].committed_at, None);
    let commits: i64 = sqlx::query_scalar("SELECT count(*) FROM string_events_commits")
        .fetch_one(&pool)
        .await?;
    assert_eq!(commits, 0, "no commit-time row without track_commit_time");

    for query in [
        AuditQuery::new().committed_since(chrono::Utc::now()),
        AuditQuery::new().committed_until(chrono::Utc::now()),
        AuditQuery::new().order(Order::CommittedDesc),
    ] {
        let err = audit.list(&query).await.expect_err("refused");
        assert!(
            matches!(
                err,
                events_core::Error::Audit(events_core::AuditError::CommitTimeNotTracked {
                    table: "string_events",
                    ..
                })
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("track_commit_time = true"),
            "{err}"
        );
    }
    let err = audit
        .count(&AuditQuery::new().committed_since(chrono::Utc::now()))
        .await
        .expect_err("counts are refused too");
    assert!(matches!(
        err,
        events_core::Error::Audit(events_core::AuditError::CommitTimeNotTracked { .. })
    ));
    Ok(())
}

/// Notifications do not need commit times: with `track_commit_time` off, a
/// session with `events.notify = 'on'` still announces its transactions.
#[sqlx::test(migrations = false)]
async fn notifications_work_without_commit_times(pool: PgPool) -> TestResult {
    let store = PgEventStore::<StringLog>::new(pool.clone());
    store.migrate().await?;
    let audit = store.audit();
    let mut listener = audit.listen().await?;
    // A session without notifications announces nothing.
    audit.track(ManualEntry::new("quiet")).await?;
    let mut conn = pool.acquire().await?;
    sqlx::query("SET events.notify = 'on'")
        .execute(&mut *conn)
        .await?;
    let entry = audit
        .track_in(&mut conn, ManualEntry::new("loud"))
        .await?
        .ok_or("tracked")?;
    let note = tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv()).await??;
    let txid: u64 = note.payload().parse()?;
    assert_eq!(
        txid, entry.transaction_id,
        "the first announcement is the loud one"
    );
    Ok(())
}
