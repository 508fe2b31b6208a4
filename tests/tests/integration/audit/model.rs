//! The query model itself: keyset paging, count modes, recorded changes and
//! unchanged updates, request context, hostile input, the schema and its
//! upgrade, append-only side tables, index coverage of every query shape.

use events_core::audit::{
    AuditQuery, Count, CountMode, Cursor, EntryKind, ManualEntry, Order, RequestContext,
};
use events_core::{Error, EventId, Key};
use events_postgres::PgEventStore;
use events_postgres::audit::{Explain, Facet, SEARCH_LIMIT};
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

use super::fixture::{
    Log, Member, NewProject, Project, Rename, TestResult, actions, project, setup,
};

fn entry(action: &str) -> ManualEntry<Log> {
    ManualEntry::new(action)
}

fn field_of(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Err(Error::Audit(events_core::AuditError::InvalidFilter { field, .. })) => {
            format!("filter:{field}")
        }
        Err(Error::Audit(events_core::AuditError::InvalidEntry { field, .. })) => {
            format!("entry:{field}")
        }
        other => format!("unexpected: {other:?}"),
    }
}

/// Keyset cursors visit every entry exactly once, in order, in each order,
/// including entries with equal timestamps (the id breaks ties).
#[sqlx::test(migrations = false)]
async fn keyset_cursors_walk_every_entry_once(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    for i in 0..13 {
        audit.track(entry(&format!("k.{i:02}"))).await?;
    }
    // Five entries with one and the same occurred_at.
    sqlx::query(
        "INSERT INTO events (action, action_type, version, occurred_at) \
         SELECT 'tie.' || g, 'manual', 1, now() FROM generate_series(1, 5) g",
    )
    .execute(&pool)
    .await?;
    for order in [
        Order::OccurredDesc,
        Order::OccurredAsc,
        Order::CommittedAsc,
        Order::CommittedDesc,
    ] {
        let everything = audit
            .list(&AuditQuery::new().order(order).offset(0).limit(100))
            .await?;
        assert_eq!(everything.len(), 18);
        let mut walked = Vec::new();
        let mut cursor: Option<Cursor> = None;
        let mut pages = 0;
        loop {
            // The cursor travels as text, as it would through a URL.
            let cursor_text = cursor.map(|c| c.to_string());
            let parsed = cursor_text.map(|t| t.parse::<Cursor>()).transpose()?;
            let page = audit
                .query(&AuditQuery::new().order(order).after(parsed).limit(4))
                .await?;
            pages += 1;
            assert_eq!(page.page, None);
            assert!(page.entries.len() <= 4);
            walked.extend(page.entries.iter().map(|e| e.id));
            match page.next_cursor {
                Some(next) => {
                    assert_eq!(next.order, order);
                    assert_eq!(
                        Some(next),
                        page.entries.last().and_then(|e| e.cursor(order))
                    );
                    cursor_loop_guard(pages)?;
                    cursor = Some(next);
                }
                None => break,
            }
        }
        assert_eq!(pages, 5, "{order:?}: 4 full pages and a last one of 2");
        let expected: Vec<EventId> = everything.iter().map(|e| e.id).collect();
        assert_eq!(walked, expected, "{order:?}");
    }
    Ok(())
}

fn cursor_loop_guard(pages: usize) -> Result<(), String> {
    if pages > 100 {
        Err("keyset paging did not end".into())
    } else {
        Ok(())
    }
}

/// Count modes: exact, capped (exact below the cap, at least the cap above),
/// estimated (the planner's number), none.
#[sqlx::test(migrations = false)]
async fn count_modes_exact_capped_estimated_none(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    sqlx::query(
        "INSERT INTO events (action, action_type, version, occurred_at) \
         SELECT CASE WHEN g % 3 = 0 THEN 'three' ELSE 'other' END, 'manual', 1, now() \
         FROM generate_series(1, 300) g",
    )
    .execute(&pool)
    .await?;
    sqlx::query("ANALYZE events").execute(&pool).await?;
    let all = AuditQuery::<Log>::new();
    assert_eq!(audit.count(&all).await?, Count::Exact(300));
    assert_eq!(
        audit
            .count(&all.clone().count_mode(CountMode::Capped(100)))
            .await?,
        Count::AtLeast(100)
    );
    assert_eq!(
        audit
            .count(&all.clone().count_mode(CountMode::Capped(300)))
            .await?,
        Count::Exact(300)
    );
    let estimated = audit
        .count(&all.clone().count_mode(CountMode::Estimated))
        .await?;
    assert_eq!(estimated, Count::Estimated(300), "reltuples after ANALYZE");
    let three = audit
        .count(&all.clone().action("three").count_mode(CountMode::Estimated))
        .await?;
    assert!(
        matches!(three, Count::Estimated(n) if (50..=200).contains(&n)),
        "the planner's estimate for 100 rows: {three:?}"
    );

    // Numbered pages count up to 10,000 by default; keyset pages do not count.
    let page = audit.query(&all.clone().page(1, 10)).await?;
    assert_eq!(
        (page.total, page.total_pages()),
        (Some(Count::Exact(300)), Some(30))
    );
    let capped = audit
        .query(&all.clone().page(1, 10).count_mode(CountMode::Capped(50)))
        .await?;
    assert_eq!(
        (
            capped.total,
            capped.total_pages(),
            capped.total.map(|t| t.to_string())
        ),
        (Some(Count::AtLeast(50)), Some(5), Some("50+".to_owned()))
    );
    let keyset = audit.query(&all.clone().after(None).limit(10)).await?;
    assert_eq!(keyset.total, None);
    let none = audit
        .query(&all.clone().page(2, 10).count_mode(CountMode::None))
        .await?;
    assert_eq!((none.total, none.entries.len()), (None, 10));
    Ok(())
}

/// An update that changed nothing keeps its event (written before the body
/// ran) and is marked unchanged; queries can hide it.
#[sqlx::test(migrations = false)]
async fn unchanged_updates_are_marked_and_can_be_hidden(pool: PgPool) -> TestResult {
    let (store, audit) = setup(&pool).await?;
    let p = project(&store, "Apollo").await?;
    Project::rename(
        p.id,
        Rename {
            name: "Apollo".into(),
        },
    )
    .run(&store)
    .await?;
    Project::rename(
        p.id,
        Rename {
            name: "Artemis".into(),
        },
    )
    .run(&store)
    .await?;

    let all = audit.history("project", p.id).await?;
    assert_eq!(actions(&all), ["create", "rename", "rename"]);
    let noop = all[1].changes.as_ref().ok_or("changes")?;
    assert!(noop.unchanged);
    assert_eq!(noop.diff_values.as_ref().map(|d| d.len()), Some(0));
    assert!(!all[2].changes.as_ref().ok_or("changes")?.unchanged);

    let visible = audit
        .list(
            &AuditQuery::new()
                .record("project", p.id)
                .hide_unchanged()
                .order(Order::OccurredAsc),
        )
        .await?;
    assert_eq!(
        visible.iter().map(|e| e.id).collect::<Vec<_>>(),
        [all[0].id, all[2].id]
    );
    assert_eq!(
        audit
            .count(&AuditQuery::new().hide_unchanged())
            .await?
            .value(),
        2
    );
    Ok(())
}

/// Each action records its changes once; a second time is a typed error and
/// the whole action rolls back.
#[sqlx::test(migrations = false)]
async fn changes_are_recorded_once_per_action(pool: PgPool) -> TestResult {
    let (store, audit) = setup(&pool).await?;
    let p = project(&store, "Apollo").await?;
    let err = Project::rename_recording_twice(p.id, Rename { name: "X".into() })
        .run(&store)
        .await
        .expect_err("recorded twice");
    assert!(
        matches!(
            err,
            Error::ChangesAlreadyRecorded {
                resource: "project",
                action: "rename_recording_twice",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(actions(&audit.list(&AuditQuery::new()).await?), ["create"]);
    let (name,): (String,) = sqlx::query_as("SELECT name FROM projects")
        .fetch_one(&pool)
        .await?;
    assert_eq!(name, "Apollo");
    Ok(())
}

/// The changes and commit tables are append-only like the events.
#[sqlx::test(migrations = false)]
async fn changes_and_commits_are_append_only(pool: PgPool) -> TestResult {
    let (store, _) = setup(&pool).await?;
    project(&store, "Apollo").await?;
    for sql in [
        "UPDATE events_changes SET unchanged = true",
        "DELETE FROM events_changes",
        "TRUNCATE events_changes",
        "UPDATE events_commits SET committed_at = now()",
        "DELETE FROM events_commits",
        "TRUNCATE events_commits",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.expect_err(sql);
        assert!(Error::from_sqlx("tampering", err).is_append_only(), "{sql}");
    }
    Ok(())
}

/// Request context: set on an action call and on a manual entry, the same
/// request id finds both; metadata containment.
#[sqlx::test(migrations = false)]
async fn request_context_and_metadata_filters(pool: PgPool) -> TestResult {
    let (store, audit) = setup(&pool).await?;
    let request = RequestContext::new()
        .request_id("req-7f3a")
        .ip_address("203.0.113.9".parse()?)
        .user_agent("curl/8.0");
    Project::create(NewProject {
        name: "Apollo".into(),
    })
    .metadata(json!({"source": "api"}))
    .request(&request)
    .run(&store)
    .await?;
    audit
        .track(
            entry("project.exported")
                .request(request.clone())
                .metadata(json!({"source": "api", "format": "csv"})),
        )
        .await?;
    audit
        .track(entry("project.exported").request_id("req-other"))
        .await?;

    let by_request = audit
        .list(&AuditQuery::new().request_id("req-7f3a"))
        .await?;
    assert_eq!(actions(&by_request), ["project.exported", "create"]);
    for e in &by_request {
        assert_eq!(e.ip_address.as_deref(), Some("203.0.113.9"));
        assert_eq!(e.user_agent.as_deref(), Some("curl/8.0"));
        assert_eq!(e.metadata["source"], "api", "caller metadata kept");
    }
    let csv = audit
        .list(&AuditQuery::new().metadata_contains(json!({"format": "csv"})))
        .await?;
    assert_eq!(actions(&csv), ["project.exported"]);
    let api = audit
        .list(
            &AuditQuery::new()
                .metadata_contains(json!({"source": "api"}))
                .kind(EntryKind::Create),
        )
        .await?;
    assert_eq!(actions(&api), ["create"]);
    Ok(())
}

/// Quotes, `%`, `_`, backslashes and other characters in filter values match
/// literally: nothing is a pattern, nothing breaks the SQL.
#[sqlx::test(migrations = false)]
async fn hostile_strings_match_literally(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let names = [
        "a%b",
        "axb",
        "a_b",
        "a\\b",
        "a\\\\b",
        "o'brien.x",
        "q\"uote",
        "é.ü",
        "a",
        "a%",
        "';DROP TABLE events;--",
    ];
    for name in names {
        audit
            .track(
                entry(name)
                    .resource_type(name)
                    .request_id(name)
                    .metadata(json!({"v": name})),
            )
            .await?;
    }
    for name in names {
        let exact = audit.list(&AuditQuery::new().action(name)).await?;
        assert_eq!(actions(&exact), [name], "exact {name}");
        let by_resource = audit.list(&AuditQuery::new().resource(name)).await?;
        assert_eq!(actions(&by_resource), [name], "resource {name}");
        let by_request = audit.list(&AuditQuery::new().request_id(name)).await?;
        assert_eq!(actions(&by_request), [name], "request id {name}");
        let by_metadata = audit
            .list(&AuditQuery::new().metadata_contains(json!({"v": name})))
            .await?;
        assert_eq!(actions(&by_metadata), [name], "metadata {name}");
    }
    let prefixed = |p: &'static str| {
        let audit = audit.clone();
        async move {
            let mut found: Vec<String> = audit
                .list(&AuditQuery::new().action_prefix(p))
                .await?
                .into_iter()
                .map(|e| e.action)
                .collect();
            found.sort();
            Ok::<_, Error>(found)
        }
    };
    assert_eq!(prefixed("a%").await?, ["a%", "a%b"]);
    assert_eq!(prefixed("a_").await?, ["a_b"]);
    assert_eq!(prefixed("a\\").await?, ["a\\\\b", "a\\b"]);
    assert_eq!(prefixed("o'").await?, ["o'brien.x"]);
    assert_eq!(prefixed("é").await?, ["é.ü"]);
    assert_eq!(
        audit.search_actions("a%", SEARCH_LIMIT).await?,
        ["a%", "a%b"]
    );
    assert_eq!(
        audit.search_actions("a\\", SEARCH_LIMIT).await?,
        ["a\\\\b", "a\\b"]
    );
    assert_eq!(
        audit.search_actions("'", SEARCH_LIMIT).await?,
        ["';DROP TABLE events;--"]
    );
    assert_eq!(
        audit.count(&AuditQuery::new()).await?.value(),
        11,
        "the table is still there"
    );
    Ok(())
}

/// Values that cannot match or cannot be sent are typed errors naming the
/// filter, found before any SQL runs: invalid UUIDs and integers, very long
/// strings, NUL characters, bad pages, foreign cursors, unknown actor columns.
#[sqlx::test(migrations = false)]
async fn hostile_filter_values_fail_typed(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    audit.track(entry("ok")).await?;
    let long = "x".repeat(100_000);
    let q = || AuditQuery::<Log>::new();
    let cases: Vec<(AuditQuery<Log>, &str)> = vec![
        (q().record("project", "not-a-uuid"), "filter:rows"),
        (q().record("project", 42_i64), "filter:rows"),
        (
            q().record_id("0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5"),
            "filter:record_ids",
        ),
        (q().actor_key("user_id", "' OR 1=1 --"), "filter:actors"),
        (
            q().actor_key("no_such_column", Uuid::now_v7()),
            "filter:actors",
        ),
        (q().actor_key("user_id\0", Uuid::now_v7()), "filter:actors"),
        (q().action(long.as_str()), "filter:action"),
        (q().action_prefix("a\0"), "filter:action"),
        (q().search(long.as_str()), "filter:search"),
        (q().resource(long.as_str()), "filter:resources"),
        (q().request_id("\0"), "filter:request_id"),
        (q().target(long.as_str()), "filter:targets"),
        (q().tenant(long.as_str()), "filter:tenant"),
        (
            q().metadata_contains(json!({"k": "nul\u{0}"})),
            "filter:metadata",
        ),
        (
            q().metadata_contains(json!("not an object")),
            "filter:metadata",
        ),
        (q().transaction(u64::MAX), "filter:transactions"),
        (q().page(0, 10), "filter:page"),
        (q().page(1, 0), "filter:per_page"),
        (q().offset(0).limit(1_000_000), "filter:limit"),
        (q().offset(u64::MAX), "filter:offset"),
        (
            q().resources((0..500).map(|i| i.to_string())),
            "filter:resources",
        ),
        (
            q().order(Order::OccurredAsc).after(Some(Cursor {
                order: Order::CommittedDesc,
                at: chrono::Utc::now(),
                id: EventId::Integer(1),
            })),
            "filter:cursor",
        ),
        (
            q().after(Some(Cursor {
                order: Order::OccurredDesc,
                at: chrono::Utc::now(),
                id: EventId::Uuid(Uuid::now_v7()),
            })),
            "filter:cursor",
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(field_of(audit.query(&query).await), expected, "{query:?}");
        assert_eq!(
            field_of(audit.count(&query).await),
            expected,
            "count {query:?}"
        );
    }
    assert_eq!(
        field_of(audit.search_actions(&long, SEARCH_LIMIT).await),
        "filter:search"
    );
    assert_eq!(field_of(audit.search_actions("a", 0).await), "filter:limit");
    assert_eq!(
        field_of(audit.history("project", "nope").await),
        "filter:rows"
    );
    assert_eq!(
        field_of(audit.for_resource_id("nope").await),
        "filter:record_ids"
    );
    assert_eq!(field_of(audit.distinct_actors(0).await), "filter:limit");
    assert!("%%%".parse::<Cursor>().is_err());

    // An integer identity fits the string actor column as text; for_user with a
    // non-UUID compares only the string column and targets: no match, no error.
    assert!(audit.query(&q().identity(12_i64)).await?.entries.is_empty());
    assert!(audit.for_user("not-a-uuid").await?.is_empty());
    assert_eq!(audit.count(&q()).await?.value(), 1, "the log is intact");
    Ok(())
}

/// Manual entries with values that cannot be stored are typed errors naming
/// the field. (The request context is cleaned instead, as on actions: see
/// `tests/request_context.rs`.)
#[sqlx::test(migrations = false)]
async fn hostile_entry_values_fail_typed(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let long = "y".repeat(10_000);
    let cases: Vec<(ManualEntry<Log>, &str)> = vec![
        (entry(""), "entry:action"),
        (entry("   "), "entry:action"),
        (entry(&long), "entry:action"),
        (entry("line\nbreak"), "entry:action"),
        (entry("a").resource("", Uuid::now_v7()), "entry:resource"),
        (
            entry("a").resource(long.as_str(), Uuid::now_v7()),
            "entry:resource",
        ),
        (entry("a").resource("project", "0190"), "entry:record_id"),
        (entry("a").resource("project", 7_i64), "entry:record_id"),
        (
            {
                let mut e = entry("a");
                e.record_id = Some(Key::Uuid(Uuid::now_v7()));
                e
            },
            "entry:record_id",
        ),
        (
            entry("a").actor_key("nobody", Uuid::now_v7()),
            "entry:actor",
        ),
        (
            entry("a").actor_key("user_id", "not-a-uuid"),
            "entry:user_id",
        ),
        (entry("a").target("user", long.as_str()), "entry:target"),
        (entry("a").mode(long.as_str()), "entry:mode"),
        (entry("a").tenant(long.as_str()), "entry:tenant"),
        (entry("a").metadata(json!(null)), "entry:metadata"),
        (entry("a").metadata(json!({"k": "\u{0}"})), "entry:metadata"),
        (
            entry("a").data(json!({"big": "z".repeat(100_000)})),
            "entry:data",
        ),
    ];
    for (e, expected) in cases {
        let shown = format!("{:?}", e.action.chars().take(20).collect::<String>());
        assert_eq!(field_of(audit.track(e).await), expected, "{shown}");
    }
    assert_eq!(audit.count(&AuditQuery::new()).await?.value(), 0);
    Ok(())
}

/// The readers of the event model (`list_events`, `events_for_record`) skip
/// manual entries: they are not events of an action.
#[sqlx::test(migrations = false)]
async fn event_readers_skip_manual_entries(pool: PgPool) -> TestResult {
    let (store, audit) = setup(&pool).await?;
    let p = project(&store, "Apollo").await?;
    audit
        .track(entry("create").resource("project", p.id))
        .await?;
    Project::rename(p.id, Rename { name: "B".into() })
        .run(&store)
        .await?;
    let events = store.list_events(None, 100).await?;
    assert_eq!(
        events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["create", "rename"]
    );
    let history = store.events_for_record("project", p.id).await?;
    assert_eq!(history.len(), 2);
    assert_eq!(audit.history("project", p.id).await?.len(), 3);
    Ok(())
}

/// The event table as the version before the audit log created it.
const OLD_TABLE: &str = r#"
CREATE TABLE "events" (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resource text NOT NULL,
    record_id uuid NOT NULL,
    action text NOT NULL,
    action_type text NOT NULL CHECK (action_type IN ('create', 'update', 'destroy')),
    "user_id" uuid,
    "service" text,
    data jsonb NOT NULL DEFAULT '{}',
    metadata jsonb NOT NULL DEFAULT '{}',
    version integer NOT NULL CHECK (version > 0),
    tenant text,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    txid xid8 NOT NULL DEFAULT pg_current_xact_id()
);
INSERT INTO "events" (resource, record_id, action, action_type, version, occurred_at)
VALUES ('project', '0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b', 'create', 'create', 1, now() - interval '1 day');
"#;

/// `migrate` upgrades an event table created before the audit log in place:
/// manual entries become possible, recorded actions keep their required
/// columns, old events get a commit time; running it again changes nothing.
#[sqlx::test(migrations = false)]
async fn migrate_upgrades_a_table_created_before_the_audit_log(pool: PgPool) -> TestResult {
    sqlx::raw_sql(OLD_TABLE).execute(&pool).await?;
    let (_, audit) = setup(&pool).await?;
    PgEventStore::<Log>::new(pool.clone()).migrate().await?;

    let old = audit.list(&AuditQuery::new()).await?;
    assert_eq!(actions(&old), ["create"]);
    let (recorded_at,): (chrono::DateTime<chrono::Utc>,) =
        sqlx::query_as("SELECT recorded_at FROM events")
            .fetch_one(&pool)
            .await?;
    assert_eq!(
        old[0].committed_at,
        Some(recorded_at),
        "backfilled from recorded_at"
    );
    audit.track(entry("system.upgraded")).await?;
    assert_eq!(audit.count(&AuditQuery::new()).await?.value(), 2);

    let checks: Vec<String> = sqlx::query_scalar(
        "SELECT conname::text FROM pg_constraint WHERE conrelid = 'events'::regclass \
         AND contype = 'c' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await?;
    assert_eq!(checks, ["events_kinds_check", "events_version_check"]);
    for (sql, what) in [
        (
            "INSERT INTO events (action, action_type, version, occurred_at) VALUES ('x', 'create', 1, now())",
            "a recorded action without resource",
        ),
        (
            "INSERT INTO events (action, action_type, version, occurred_at) VALUES ('x', 'bogus', 1, now())",
            "an unknown kind",
        ),
        (
            "INSERT INTO events (record_id, action, action_type, version, occurred_at) \
             VALUES (gen_random_uuid(), 'x', 'manual', 1, now())",
            "a record id without resource",
        ),
    ] {
        let err = sqlx::query(sql).execute(&pool).await.expect_err(what);
        let code = match &err {
            sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
            _ => None,
        };
        assert_eq!(code.as_deref(), Some("23514"), "{what}: {err}");
    }
    Ok(())
}

/// With sequential scans off, every query shape still finds an index: the
/// plans name no `Seq Scan` on the event table. (The bench shows the plans the
/// planner actually picks at a million entries.)
#[sqlx::test(migrations = false)]
async fn every_query_shape_has_an_index(pool: PgPool) -> TestResult {
    let (store, _) = setup(&pool).await?;
    project(&store, "Apollo").await?;
    let options = pool.connect_options().as_ref().clone();
    let no_seq = PgPoolOptions::new()
        .max_connections(2)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("SET enable_seqscan = off")
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    let audit = PgEventStore::<Log>::new(no_seq).audit();
    let member = Member::new();
    let now = chrono::Utc::now();
    let cursor = Cursor {
        order: Order::OccurredDesc,
        at: now,
        id: EventId::Integer(10),
    };
    let commit_cursor = Cursor {
        order: Order::CommittedDesc,
        at: now,
        id: EventId::Integer(10),
    };
    let q = || AuditQuery::<Log>::new();
    let shapes: Vec<(&str, AuditQuery<Log>)> = vec![
        ("recent", q().after(None).limit(20)),
        ("keyset", q().after(Some(cursor)).limit(50)),
        ("page", q().page(3, 50)),
        ("action", q().action("project.deleted")),
        ("action prefix", q().action_pattern("project.*")),
        ("search", q().search("proj")),
        ("kind", q().kind(EntryKind::Manual)),
        ("resource", q().resource("project")),
        ("record", q().record("project", Uuid::now_v7())),
        ("record id", q().record_id(Uuid::now_v7())),
        ("actor", q().actor(&member)),
        ("identity", q().identity("mailer")),
        ("target", q().target(Uuid::now_v7())),
        ("for user", q().for_user(Uuid::now_v7())),
        ("tenant", q().tenant("acme")),
        ("transaction", q().transaction(12345)),
        ("since", q().since(now)),
        ("since until", q().since(now).until(now)),
        ("committed desc", q().order(Order::CommittedDesc)),
        (
            "committed keyset",
            q().order(Order::CommittedDesc).after(Some(commit_cursor)),
        ),
        (
            "committed range",
            q().committed_since(now).committed_until(now),
        ),
        ("metadata", q().metadata_contains(json!({"source": "api"}))),
        ("request id", q().request_id("req-1")),
        ("mode", q().mode("auto")),
        ("module", q().module("billing")),
        ("target kind", q().target_kind("user")),
        ("hide unchanged", q().hide_unchanged().actor(&member)),
    ];
    let mut plans = Vec::new();
    for (name, query) in &shapes {
        plans.push((
            name.to_string(),
            audit.explain(Explain::Query(query)).await?,
        ));
        for mode in [CountMode::Exact, CountMode::Capped(10_000)] {
            plans.push((
                format!("{name} count {mode:?}"),
                audit.explain(Explain::Count(query, mode)).await?,
            ));
        }
    }
    plans.push((
        "typeahead".into(),
        audit.explain(Explain::SearchActions("proj")).await?,
    ));
    plans.push((
        "get".into(),
        audit.explain(Explain::Get(EventId::Integer(1))).await?,
    ));
    for facet in [
        Facet::Actions,
        Facet::Kinds,
        Facet::Resources,
        Facet::Modes,
        Facet::Modules,
        Facet::Actor(0),
        Facet::Actor(1),
    ] {
        plans.push((
            format!("{facet:?}"),
            audit.explain(Explain::Facet(facet)).await?,
        ));
    }
    for (name, plan) in plans {
        assert!(!plan.contains("Seq Scan on events "), "{name}:\n{plan}");
        assert!(
            !plan.contains("Seq Scan on events_commits"),
            "{name}:\n{plan}"
        );
    }
    Ok(())
}
