//! PhoenixKit's `Activity`: `log/1`, `log_user_change/4` and its options,
//! `list/1` and each option, `list_for_user/2`, `count/1`, `get_entry/1`,
//! `get_entry!/1`, `recent/1`, the `list_*` facets, `prune/1`,
//! `retention_days/0`, `pubsub_topic/0`, `resolve_resource_users/1`,
//! `action_badge_color/1`, `mode_badge_color/1`.

use std::collections::HashMap;
use std::time::Duration;

use events_core::audit::{
    AuditQuery, EntryKind, ManualEntry, Tone, action_tone, mode_tone, resolve_actors,
    resolve_records,
};
use events_core::{Error, EventId, Key};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::fixture::{Log, Member, Service, TestResult, actions, project, setup};

fn log(action: &str) -> ManualEntry<Log> {
    ManualEntry::new(action)
}

/// `log(%{action:, actor_uuid:, resource_type:, resource_uuid:, target_uuid:,
/// metadata:})` returns `{:ok, entry}`; failures are logged, never raised.
#[sqlx::test(migrations = false)]
async fn log_records_every_field_and_never_fails(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let user = Member::new();
    let post = Uuid::now_v7();
    let followed = Uuid::now_v7();
    let entry = audit
        .log(
            log("post.created")
                .actor(&user)
                .resource("post", post)
                .target("user", followed)
                .metadata(json!({"title": "Hello"})),
        )
        .await
        .ok_or("a valid entry is logged")?;
    let stored = audit.get(entry.id).await?;
    assert_eq!(stored.action, "post.created");
    assert_eq!(stored.resource.as_deref(), Some("post"));
    assert_eq!(stored.record_id, Some(Key::Uuid(post)));
    assert_eq!(stored.actor.map(|a| a.key), Some(Key::Uuid(user.0)));
    let target = stored.target.ok_or("target stored")?;
    assert_eq!(
        (target.kind.as_deref(), target.id),
        (Some("user"), followed.to_string())
    );
    assert_eq!(stored.metadata["title"], "Hello");

    // Invalid entries: `None`, nothing stored, no panic.
    assert!(audit.log(log("")).await.is_none());
    assert!(audit.log(log("bad\0action")).await.is_none());
    assert!(
        audit
            .log(log("post.created").resource("post", "not-a-uuid"))
            .await
            .is_none()
    );
    assert!(
        audit
            .log(log("x").metadata(json!(["not", "an", "object"])))
            .await
            .is_none()
    );
    // The strict form returns the typed error naming the field.
    let err = audit
        .track(log("post.created").resource("post", "not-a-uuid"))
        .await
        .expect_err("invalid uuid");
    assert!(
        matches!(&err, Error::Audit(events_core::AuditError::InvalidEntry { field, .. }) if field == "record_id"),
        "{err}"
    );
    assert_eq!(audit.count(&AuditQuery::new()).await?.value(), 1);
    Ok(())
}

#[derive(serde::Serialize)]
struct Profile {
    email: String,
    name: String,
    role: String,
    custom_fields: serde_json::Value,
}

fn profile(name: &str, role: &str, custom: i32) -> Profile {
    Profile {
        email: "ada@example.com".into(),
        name: name.into(),
        role: role.into(),
        custom_fields: json!({"n": custom}),
    }
}

/// `log_user_change(action, user, changeset)` stores `field_from` / `field_to`
/// of the changed fields, and skips logging when nothing changed (here: only the
/// default-skipped `custom_fields`).
#[sqlx::test(migrations = false)]
async fn log_user_change_diffs_fields_and_skips_unchanged(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let user = Member::new();
    let before = profile("Ada", "user", 1);

    let entry = audit
        .log(ManualEntry::user_change(
            "user.profile_updated",
            &user,
            &before,
            &profile("Ada L.", "user", 2),
        )?)
        .await
        .ok_or("a change is logged")?;
    let stored = audit.get(entry.id).await?;
    let changes = stored.changes.as_ref().ok_or("changes stored")?;
    assert_eq!(
        serde_json::Value::Object(changes.from_to_pairs()),
        json!({"name_from": "Ada", "name_to": "Ada L."}),
        "custom_fields is skipped by default"
    );
    assert_eq!(
        stored.actor.as_ref().map(|a| &a.key),
        Some(&Key::Uuid(user.0)),
        "the user by default"
    );
    assert_eq!(stored.mode.as_deref(), Some("auto"));
    assert_eq!(stored.metadata["actor_role"], "user");
    assert_eq!(stored.target, None);

    let skipped = audit
        .log(ManualEntry::user_change(
            "user.profile_updated",
            &user,
            &before,
            &profile("Ada", "user", 99),
        )?)
        .await;
    assert!(skipped.is_none(), "nothing but custom_fields changed");
    assert_eq!(
        audit.count(&AuditQuery::new()).await?.value(),
        1,
        "the skipped change stored nothing"
    );
    Ok(())
}

/// `log_user_change` options: `:actor_uuid`, `:target_uuid`, `:mode`,
/// `:actor_role`, `:extra_metadata`, `:skip_fields`.
#[sqlx::test(migrations = false)]
async fn log_user_change_options(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let user = Member::new();
    let admin = Member::new();
    let entry = ManualEntry::user_change(
        "user.role_changed",
        &user,
        &profile("Ada", "user", 1),
        &profile("Ada L.", "admin", 1),
    )?
    .actor(&admin)
    .target("user", user.0)
    .mode("manual")
    .actor_role("admin")
    .extra_metadata(json!({"reason": "promotion"}))
    .skip_fields(["name"]);
    let stored = audit
        .get(audit.log(entry).await.ok_or("logged")?.id)
        .await?;
    assert_eq!(stored.actor.map(|a| a.key), Some(Key::Uuid(admin.0)));
    assert_eq!(stored.target.map(|t| t.id), Some(user.0.to_string()));
    assert_eq!(stored.mode.as_deref(), Some("manual"));
    assert_eq!(stored.metadata["actor_role"], "admin");
    assert_eq!(stored.metadata["reason"], "promotion");
    let fields: Vec<String> = stored
        .changes
        .ok_or("changes")?
        .fields()
        .into_iter()
        .map(|f| f.field)
        .collect();
    assert_eq!(fields, ["role"], "name skipped, custom_fields unchanged");
    Ok(())
}

/// `list(action: "post.created")` exact, `list(action: "post.*")` prefix.
#[sqlx::test(migrations = false)]
async fn list_filters_by_action_exact_or_prefix(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    for action in [
        "post.created",
        "post.liked",
        "postal.sent",
        "comment.liked",
        "post.created",
    ] {
        audit.track(log(action)).await?;
    }
    let exact = audit
        .list(&AuditQuery::new().action_pattern("post.created"))
        .await?;
    assert_eq!(actions(&exact), ["post.created", "post.created"]);
    let prefix = audit
        .list(&AuditQuery::new().action_pattern("post.*"))
        .await?;
    assert_eq!(
        actions(&prefix),
        ["post.created", "post.liked", "post.created"]
    );
    let page = audit
        .query(&AuditQuery::new().action_pattern("post.*"))
        .await?;
    assert_eq!(page.total_count(), Some(3));
    Ok(())
}

/// `list(actor_uuid: id)`.
#[sqlx::test(migrations = false)]
async fn list_filters_by_actor(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let (ada, bob) = (Member::new(), Member::new());
    audit.track(log("a.one").actor(&ada)).await?;
    audit.track(log("b.one").actor(&bob)).await?;
    audit.track(log("a.two").actor(&ada)).await?;
    audit.track(log("s.one").actor(&Service("mailer"))).await?;
    assert_eq!(
        actions(&audit.list(&AuditQuery::new().actor(&ada)).await?),
        ["a.two", "a.one"]
    );
    assert_eq!(
        actions(
            &audit
                .list(&AuditQuery::new().actor_key("user_id", bob.0.to_string()))
                .await?
        ),
        ["b.one"]
    );
    assert_eq!(
        actions(
            &audit
                .list(&AuditQuery::new().actor(&Service("mailer")))
                .await?
        ),
        ["s.one"]
    );
    Ok(())
}

/// `list(resource_type: "post")`.
#[sqlx::test(migrations = false)]
async fn list_filters_by_resource_type(pool: PgPool) -> TestResult {
    let (store, audit) = setup(&pool).await?;
    project(&store, "Apollo").await?;
    audit
        .track(log("post.created").resource("post", Uuid::now_v7()))
        .await?;
    audit
        .track(log("post.liked").resource("post", Uuid::now_v7()))
        .await?;
    audit
        .track(log("user.registered").resource_type("user"))
        .await?;
    let posts = audit.list(&AuditQuery::new().resource("post")).await?;
    assert_eq!(actions(&posts), ["post.liked", "post.created"]);
    let projects = audit.list(&AuditQuery::new().resource("project")).await?;
    assert_eq!(actions(&projects), ["create"]);
    assert_eq!(projects[0].kind, EntryKind::Create);
    let users = audit.list(&AuditQuery::new().resource("user")).await?;
    assert_eq!(
        (actions(&users), users[0].record_id.clone()),
        (vec!["user.registered"], None)
    );
    Ok(())
}

/// `list(target_uuid: id)`: who was affected.
#[sqlx::test(migrations = false)]
async fn list_filters_by_target(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    audit
        .track(log("user.followed").target("user", ada))
        .await?;
    audit
        .track(log("user.followed").target("user", bob))
        .await?;
    audit.track(log("user.blocked").target("user", ada)).await?;
    let entries = audit.list(&AuditQuery::new().target(ada)).await?;
    assert_eq!(actions(&entries), ["user.blocked", "user.followed"]);
    // By text in any case, and with the target kind.
    let upper = ada.to_string().to_uppercase();
    assert_eq!(
        audit
            .list(&AuditQuery::new().target(upper.as_str()).target_kind("user"))
            .await?,
        entries
    );
    assert!(
        audit
            .list(&AuditQuery::new().target(ada).target_kind("team"))
            .await?
            .is_empty()
    );
    Ok(())
}

/// `list(since: t1, until: t2)`: `since` inclusive, `until` exclusive.
#[sqlx::test(migrations = false)]
async fn list_filters_by_since_and_until(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let mut at = Vec::new();
    for action in ["t.0", "t.1", "t.2", "t.3"] {
        at.push(
            audit
                .track(log(action))
                .await?
                .ok_or("tracked")?
                .occurred_at,
        );
    }
    let q = AuditQuery::new().since(at[1]).until(at[3]);
    assert_eq!(actions(&audit.list(&q).await?), ["t.2", "t.1"]);
    assert_eq!(
        actions(&audit.list(&AuditQuery::new().since(at[3])).await?),
        ["t.3"]
    );
    assert_eq!(
        actions(&audit.list(&AuditQuery::new().until(at[1])).await?),
        ["t.0"]
    );
    Ok(())
}

/// `list(page: 2, per_page: 3)`, default `per_page` 50.
#[sqlx::test(migrations = false)]
async fn list_pages_with_page_and_per_page(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    for i in 0..8 {
        audit.track(log(&format!("n.{i}"))).await?;
    }
    let page2 = audit.query(&AuditQuery::new().page(2, 3)).await?;
    assert_eq!(actions(&page2.entries), ["n.4", "n.3", "n.2"]);
    assert_eq!(
        (
            page2.page,
            page2.per_page,
            page2.total_count(),
            page2.total_pages()
        ),
        (Some(2), 3, Some(8), Some(3))
    );
    let page3 = audit.query(&AuditQuery::new().page(3, 3)).await?;
    assert_eq!(actions(&page3.entries), ["n.1", "n.0"]);
    let default = audit.query(&AuditQuery::new()).await?;
    assert_eq!((default.per_page, default.entries.len()), (50, 8));
    Ok(())
}

/// `list(preload: [:actor])`: the actors of a page, loaded in one batch.
#[sqlx::test(migrations = false)]
async fn list_preloads_actors_in_one_batch(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let (ada, bob) = (Member::new(), Member::new());
    for (who, action) in [(ada, "a.1"), (bob, "b.1"), (ada, "a.2")] {
        audit.track(log(action).actor(&who)).await?;
    }
    audit.track(log("system.tick")).await?;
    let entries = audit.list(&AuditQuery::new()).await?;
    let mut calls = 0;
    let names: HashMap<Key, String> = resolve_actors(&entries, "user_id", |ids| {
        calls += 1;
        let ada = ada.0;
        async move {
            assert_eq!(ids.len(), 2, "distinct actors, once each");
            Ok(ids
                .into_iter()
                .map(|k| {
                    let name = if k == Key::Uuid(ada) { "Ada" } else { "Bob" };
                    (k, name.to_owned())
                })
                .collect())
        }
    })
    .await?;
    assert_eq!(calls, 1);
    let shown: Vec<Option<&str>> = entries
        .iter()
        .map(|e| {
            e.actor
                .as_ref()
                .and_then(|a| names.get(&a.key))
                .map(String::as_str)
        })
        .collect();
    assert_eq!(shown, [None, Some("Ada"), Some("Bob"), Some("Ada")]);
    Ok(())
}

/// `list_for_user(user_uuid, opts)`: the user's activities as actor, with the
/// list options.
#[sqlx::test(migrations = false)]
async fn list_for_user_lists_the_users_activities_as_actor(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let (ada, bob) = (Member::new(), Member::new());
    audit.track(log("post.created").actor(&ada)).await?;
    audit
        .track(log("user.followed").actor(&bob).target("user", ada.0))
        .await?;
    audit.track(log("post.liked").actor(&ada)).await?;
    audit.track(log("post.created").actor(&ada)).await?;
    let page = audit
        .for_actor(ada.0, AuditQuery::new().action_pattern("post.*").page(1, 2))
        .await?;
    assert_eq!(actions(&page.entries), ["post.created", "post.liked"]);
    assert_eq!((page.total_count(), page.total_pages()), (Some(3), Some(2)));
    let all = audit.for_actor(ada.0, AuditQuery::new()).await?;
    assert_eq!(
        all.entries.len(),
        3,
        "being the target does not count as acting"
    );
    Ok(())
}

/// `count(opts)`: the same filters as `list`.
#[sqlx::test(migrations = false)]
async fn count_counts_with_the_list_filters(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let ada = Member::new();
    for i in 0..5 {
        audit.track(log("post.created").actor(&ada)).await?;
        audit.track(log(&format!("comment.{i}"))).await?;
    }
    assert_eq!(audit.count(&AuditQuery::new()).await?.value(), 10);
    assert_eq!(
        audit
            .count(&AuditQuery::new().action_pattern("post.*").actor(&ada))
            .await?
            .value(),
        5
    );
    assert_eq!(
        audit
            .count(&AuditQuery::new().action_prefix("comment.").page(1, 2))
            .await?
            .value(),
        5,
        "pagination does not change a count"
    );
    Ok(())
}

/// `get_entry(uuid)`: the entry, or nothing.
#[sqlx::test(migrations = false)]
async fn get_entry_returns_the_entry_or_none(pool: PgPool) -> TestResult {
    let (store, audit) = setup(&pool).await?;
    let p = project(&store, "Apollo").await?;
    let entry = audit.list(&AuditQuery::new()).await?.remove(0);
    let found = audit.find(entry.id).await?.ok_or("found")?;
    assert_eq!(found, entry);
    assert_eq!(found.record_id, Some(Key::Uuid(p.id)));
    assert_eq!(audit.find(EventId::Integer(999_999)).await?, None);
    let err = audit
        .find(EventId::Uuid(Uuid::now_v7()))
        .await
        .expect_err("a uuid is not an id of an integer-keyed log");
    assert!(
        matches!(err, Error::Audit(events_core::AuditError::InvalidFilter { ref field, .. }) if field == "id"),
        "{err}"
    );
    Ok(())
}

/// `get_entry!(uuid)`: raises when missing; here a typed `EntryNotFound`.
#[sqlx::test(migrations = false)]
async fn get_entry_bang_is_a_typed_not_found(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let entry = audit.track(log("x.y")).await?.ok_or("tracked")?;
    assert_eq!(audit.get(entry.id).await?.action, "x.y");
    let err = audit
        .get(EventId::Integer(424_242))
        .await
        .expect_err("missing");
    assert!(
        matches!(
            err,
            Error::Audit(events_core::AuditError::EntryNotFound {
                id: EventId::Integer(424_242)
            })
        ),
        "{err}"
    );
    Ok(())
}

/// `recent(limit \\ 20)`: the N most recent.
#[sqlx::test(migrations = false)]
async fn recent_returns_the_n_newest(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    for i in 0..25 {
        audit.track(log(&format!("r.{i:02}"))).await?;
    }
    let twenty = audit.recent(20).await?;
    assert_eq!(twenty.len(), 20);
    assert_eq!(
        (twenty[0].action.as_str(), twenty[19].action.as_str()),
        ("r.24", "r.05")
    );
    assert_eq!(actions(&audit.recent(2).await?), ["r.24", "r.23"]);
    Ok(())
}

/// `list_action_types()`: distinct actions logged, recorded and manual.
#[sqlx::test(migrations = false)]
async fn list_action_types_lists_distinct_actions(pool: PgPool) -> TestResult {
    let (store, audit) = setup(&pool).await?;
    let p = project(&store, "Apollo").await?;
    super::fixture::Project::delete(p.id, ())
        .run(&store)
        .await?;
    for action in ["post.created", "post.created", "comment.liked"] {
        audit.track(log(action)).await?;
    }
    assert_eq!(
        audit.distinct_actions().await?,
        ["comment.liked", "create", "delete", "post.created"]
    );
    assert_eq!(
        audit.distinct_kinds().await?,
        [EntryKind::Create, EntryKind::Destroy, EntryKind::Manual]
    );
    Ok(())
}

/// `list_resource_types()`.
#[sqlx::test(migrations = false)]
async fn list_resource_types_lists_distinct_resources(pool: PgPool) -> TestResult {
    let (store, audit) = setup(&pool).await?;
    project(&store, "Apollo").await?;
    audit
        .track(log("post.created").resource("post", Uuid::now_v7()))
        .await?;
    audit
        .track(log("post.liked").resource("post", Uuid::now_v7()))
        .await?;
    audit.track(log("system.tick")).await?;
    assert_eq!(audit.distinct_resources().await?, ["post", "project"]);
    Ok(())
}

/// `list_modes()`.
#[sqlx::test(migrations = false)]
async fn list_modes_lists_distinct_modes(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    audit.track(log("a.b").mode("manual")).await?;
    audit.track(log("a.b").mode("auto")).await?;
    audit.track(log("a.b").mode("manual")).await?;
    audit.track(log("a.b")).await?;
    assert_eq!(audit.distinct_modes().await?, ["auto", "manual"]);
    assert_eq!(
        actions(&audit.list(&AuditQuery::new().mode("manual")).await?),
        ["a.b", "a.b"]
    );
    Ok(())
}

/// `list_modules()`.
#[sqlx::test(migrations = false)]
async fn list_modules_lists_distinct_modules(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    audit.track(log("invoice.sent").module("billing")).await?;
    audit.track(log("post.created").module("blog")).await?;
    audit.track(log("invoice.paid").module("billing")).await?;
    assert_eq!(audit.distinct_modules().await?, ["billing", "blog"]);
    let facets = audit.facets().await?;
    assert_eq!(facets.modules, ["billing", "blog"]);
    assert_eq!(
        facets.actions,
        ["invoice.paid", "invoice.sent", "post.created"]
    );
    assert_eq!(
        actions(&audit.list(&AuditQuery::new().module("billing")).await?),
        ["invoice.paid", "invoice.sent"]
    );
    Ok(())
}

/// Inserts a manual entry that occurred `days` ago, as an older deployment
/// would have left it.
async fn old_entry(pool: &PgPool, action: &str, days: i32) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO events (action, action_type, version, occurred_at) \
         VALUES ($1, 'manual', 1, now() - make_interval(days => $2))",
    )
    .bind(action)
    .bind(days)
    .execute(pool)
    .await?;
    Ok(())
}

/// `prune(days)`: deletes activities older than `days`, through the
/// append-only guard, and records the prune itself.
#[sqlx::test(migrations = false)]
async fn prune_deletes_older_entries_and_records_itself(pool: PgPool) -> TestResult {
    let (store, audit) = setup(&pool).await?;
    old_entry(&pool, "old.one", 400).await?;
    old_entry(&pool, "old.two", 100).await?;
    project(&store, "Apollo").await?;

    let report = audit.prune(chrono::Duration::days(90)).await?;
    assert_eq!(report.deleted, 2);
    let entries = audit.list(&AuditQuery::new()).await?;
    assert_eq!(actions(&entries), ["audit.pruned", "create"]);
    let record = audit.get(report.entry).await?;
    assert_eq!(record.metadata["deleted"], 2);
    assert_eq!(record.module.as_deref(), Some("audit"));
    assert_eq!(
        record.metadata["older_than_seconds"],
        90 * 24 * 3600,
        "{}",
        record.metadata
    );

    // Outside a prune, the guard still holds.
    let err = sqlx::query("DELETE FROM events")
        .execute(&pool)
        .await
        .expect_err("append-only");
    assert!(Error::from_sqlx("deleting", err).is_append_only());
    let err = audit
        .prune(chrono::Duration::days(-1))
        .await
        .expect_err("negative");
    assert!(
        matches!(err, Error::Audit(events_core::AuditError::InvalidFilter { ref field, .. }) if field == "older_than")
    );
    Ok(())
}

/// `retention_days()` (`retention()` in days): the configured period, applied by `prune_expired`.
#[sqlx::test(migrations = false)]
async fn retention_days_is_the_configured_period(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    assert_eq!(audit.retention(), None);
    assert_eq!(audit.prune_expired().await?, None, "no period, no prune");
    let audit = audit.with_retention(chrono::Duration::days(30));
    assert_eq!(audit.retention().map(|p| p.num_days()), Some(30));
    old_entry(&pool, "old.one", 31).await?;
    old_entry(&pool, "recent.one", 29).await?;
    let report = audit.prune_expired().await?.ok_or("pruned")?;
    assert_eq!(report.deleted, 1);
    assert_eq!(
        actions(
            &audit
                .list(&AuditQuery::new().kind(EntryKind::Manual))
                .await?
        ),
        ["audit.pruned", "recent.one"]
    );
    Ok(())
}

/// `pubsub_topic()`: the channel on which committed writes are announced.
#[sqlx::test(migrations = false)]
async fn pubsub_topic_announces_committed_transactions(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    assert_eq!(audit.topic(), "events_audit");
    let mut listener = audit.listen().await?;
    let mut conn = pool.acquire().await?;
    sqlx::query("SET events.notify = 'on'")
        .execute(&mut *conn)
        .await?;
    let entry = audit
        .track_in(&mut conn, log("post.created"))
        .await?
        .ok_or("tracked")?;
    let note = tokio::time::timeout(Duration::from_secs(10), listener.recv()).await??;
    assert_eq!(note.channel(), "events_audit");
    let txid: u64 = note.payload().parse()?;
    assert_eq!(txid, entry.transaction_id);
    let announced = audit.list(&AuditQuery::new().transaction(txid)).await?;
    assert_eq!(actions(&announced), ["post.created"]);
    Ok(())
}

/// `resolve_resource_users(entries)`: the user records entries are about, one
/// batch query instead of one per entry.
#[sqlx::test(migrations = false)]
async fn resolve_resource_users_batches_one_load(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    for (action, user) in [
        ("user.updated", ada),
        ("user.locked", bob),
        ("user.updated", ada),
    ] {
        audit.track(log(action).resource("user", user)).await?;
    }
    audit
        .track(log("post.created").resource("post", Uuid::now_v7()))
        .await?;
    let entries = audit.list(&AuditQuery::new()).await?;
    let mut loads = Vec::new();
    let users = resolve_records(&entries, "user", |ids| {
        loads.push(ids.clone());
        async move {
            Ok(ids
                .into_iter()
                .map(|id| {
                    let email = format!("{id}@example.com");
                    (id, email)
                })
                .collect::<Vec<_>>())
        }
    })
    .await?;
    assert_eq!(loads.len(), 1);
    let mut expected = vec![Key::Uuid(ada), Key::Uuid(bob)];
    expected.sort();
    assert_eq!(loads[0], expected);
    assert_eq!(users.len(), 2);
    assert_eq!(users[&Key::Uuid(bob)], format!("{bob}@example.com"));
    let none: HashMap<Key, ()> = resolve_records(&[], "user", |_| async {
        Err(Error::Audit(events_core::AuditError::EntryNotFound {
            id: EventId::Integer(0),
        }))
    })
    .await?;
    assert!(none.is_empty(), "no entries, no load");
    Ok(())
}

/// `action_badge_color(action)` and `mode_badge_color(mode)`.
#[test]
fn badge_colors_follow_the_verb_and_the_mode() {
    let cases = [
        ("post.created", Tone::Success, "badge-success"),
        ("user.registered", Tone::Success, "badge-success"),
        ("role.assigned", Tone::Info, "badge-info"),
        ("password.changed", Tone::Info, "badge-info"),
        ("admin_password_reset", Tone::Warning, "badge-warning"),
        ("comment.deleted", Tone::Error, "badge-error"),
        ("something", Tone::Neutral, "badge-ghost"),
    ];
    for (action, tone, class) in cases {
        assert_eq!(action_tone(action), tone, "{action}");
        assert_eq!(action_tone(action).badge_class(), class, "{action}");
    }
    assert_eq!(mode_tone("auto").badge_class(), "badge-info");
    assert_eq!(mode_tone("manual").badge_class(), "badge-warning");
    assert_eq!(mode_tone("other").badge_class(), "badge-ghost");
}
