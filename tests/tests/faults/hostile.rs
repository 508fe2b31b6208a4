//! Hostile input: NUL bytes and a 10 MB document in actions, SQL
//! metacharacters and odd Unicode in every audit filter, paging bounds,
//! tampered cursors, and retention at its exact boundary. Each is a typed
//! error or a literal, correct result; never a panic, a SQL error or a partial
//! write.

use chrono::{DateTime, Utc};
use events_core::audit::{ActionMatch, AuditEntry, AuditQuery, Cursor, EntryKind, ManualEntry};
use events_core::{Error, EventId, event_log};
use events_postgres::{AuditLog, PgEventStore};
use serde_json::json;
use sqlx::PgPool;

use crate::fixture::{FaultLog, Job, Service, TestResult, input, label, setup, stored, within};

/// NUL characters in an action's input, metadata or actor key cannot be
/// stored (PostgreSQL `jsonb` and `text` refuse them): each call is refused
/// before any SQL with `Error::InvalidValue` naming the column, and nothing of
/// it is stored.
#[sqlx::test(migrations = false)]
async fn nul_bytes_in_an_action_fail_typed_and_store_nothing(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let before = stored(&pool).await?;
    let cases: Vec<(&str, tokio::task::JoinHandle<_>)> = vec![
        ("input", {
            let store = store.clone();
            tokio::spawn(async move { Job::create(input("nul\0label")).run(&store).await })
        }),
        ("metadata value", {
            let store = store.clone();
            tokio::spawn(async move {
                Job::create(input(&label("m-")))
                    .metadata(json!({"k": "a\u{0}b"}))
                    .run(&store)
                    .await
            })
        }),
        ("metadata key", {
            let store = store.clone();
            tokio::spawn(async move {
                Job::create(input(&label("k-")))
                    .metadata(json!({"a\u{0}b": 1}))
                    .run(&store)
                    .await
            })
        }),
        ("actor key", {
            let store = store.clone();
            tokio::spawn(async move {
                Job::create(input(&label("s-")))
                    .actor(&Service("svc\0x".into()))
                    .run(&store)
                    .await
            })
        }),
    ];
    for (what, call) in cases {
        let result = within(what, call)
            .await?
            .map_err(|e| format!("{what} panicked: {e}"))?;
        let err = result.expect_err(what);
        // Refused before any SQL, naming the column.
        assert!(matches!(err, Error::InvalidValue { .. }), "{what}: {err}");
        assert!(err.to_string().contains("NUL"), "{what}: {err}");
    }
    assert_eq!(stored(&pool).await?, before, "nothing partial");
    within(
        "a clean call",
        Job::create(input(&label("ok-"))).run(&store),
    )
    .await??;
    Ok(())
}

/// 10 MB of metadata on an action is stored whole and read back unchanged by
/// the event readers and the audit log.
#[sqlx::test(migrations = false)]
async fn ten_megabytes_of_metadata_round_trip(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let blob: String = "0123456789abcdef".repeat(10 * 1024 * 1024 / 16);
    let metadata = json!({"blob": blob, "quote": "'; DROP TABLE jobs; --"});
    let done = within(
        "the big call",
        Job::create(input(&label("big-")))
            .metadata(metadata.clone())
            .run(&store),
    )
    .await??;
    let events = store.events_for_record("Job", done.id).await?;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].metadata, metadata);
    let entry = store.audit().get(done.event.ok_or("recorded")?).await?;
    assert_eq!(
        entry.metadata["blob"].as_str().map(str::len),
        Some(blob.len())
    );
    assert_eq!(entry.metadata, metadata);
    Ok(())
}

/// A log with string record ids and a string actor, so hostile strings fit
/// every filter.
#[event_log(
    record_id_type = string,
    track_commit_time = true,
    table = "hostile_log",
    persist_actor_primary_key(service, Service, attribute_type = string),
)]
pub struct HostileLog;

/// Strings that break naive SQL, `LIKE` patterns, byte/character confusion and
/// collation-dependent comparisons.
const HOSTILE: &[&str] = &[
    "'; DROP TABLE x; --",
    "' OR '1'='1",
    "%",
    "%%",
    "_",
    "_%_",
    "\\",
    "\\\\%",
    "'",
    "''",
    "\"",
    "a%b",
    "a_b",
    "axb",
    "a\\%",
    "$1",
    "?",
    ":name",
    "/* c */",
    "--",
    ";",
    "E'\\x41'",
    "\\x00",
    "NULL",
    "null",
    "{}",
    "[",
    "*",
    "x*",
    "ünïcødé",
    "Zürich ✓ 🦀",
    "e\u{301}",
    "é",
    "שלום",
    "ﬁ",
    "a\u{200d}b",
    "\u{feff}bom",
    "\u{FFFD}",
    "\u{10FFFF}",
    "z\u{10FFFF}",
];

fn actions(entries: &[AuditEntry]) -> Vec<String> {
    let mut a: Vec<String> = entries.iter().map(|e| e.action.clone()).collect();
    a.sort();
    a
}

/// The hostile names starting with `prefix`, bytewise, sorted.
fn starting_with(prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = HOSTILE
        .iter()
        .filter(|h| h.as_bytes().starts_with(prefix.as_bytes()))
        .map(|h| (*h).to_owned())
        .collect();
    v.sort();
    v
}

/// Every string filter of `AuditQuery` given every hostile string: the query
/// runs (no SQL error) and matches literally, exactly the entry that stored
/// that string (or, for prefix filters, exactly the entries starting with its
/// bytes); counts agree; facets list each string as stored.
#[sqlx::test(migrations = false)]
async fn hostile_strings_in_every_audit_filter_match_literally(pool: PgPool) -> TestResult {
    let store = PgEventStore::<HostileLog>::new(pool.clone());
    store.migrate().await?;
    let audit = store.audit();
    let mut stored_entries = Vec::new();
    for (i, h) in HOSTILE.iter().enumerate() {
        let entry = ManualEntry::<HostileLog>::new(*h)
            .resource(*h, *h)
            .actor_key("service", *h)
            .target(*h, *h)
            .tenant(*h)
            .request_id(*h)
            .mode(*h)
            .module(*h)
            .metadata(json!({"v": h, *h: i}));
        let e = audit
            .track(entry)
            .await
            .map_err(|e| format!("storing {h:?}: {e}"))?
            .ok_or("tracked")?;
        stored_entries.push(e);
    }

    type Q = AuditQuery<HostileLog>;
    for (i, h) in HOSTILE.iter().enumerate() {
        let h = *h;
        let exact: Vec<(&str, Q)> = vec![
            ("resource", Q::new().resource(h)),
            ("resources", Q::new().resources([h, "no such resource"])),
            ("record", Q::new().record(h, h)),
            ("record_id", Q::new().record_id(h)),
            ("action", Q::new().action(h)),
            ("actor_key", Q::new().actor_key("service", h)),
            ("identity", Q::new().identity(h)),
            ("target", Q::new().target(h)),
            ("target_kind", Q::new().target_kind(h)),
            ("for_user", Q::new().for_user(h)),
            ("tenant", Q::new().tenant(h)),
            ("request_id", Q::new().request_id(h)),
            ("mode", Q::new().mode(h)),
            ("module", Q::new().module(h)),
            (
                "metadata value",
                Q::new().metadata_contains(json!({"v": h})),
            ),
            ("metadata key", Q::new().metadata_contains(json!({h: i}))),
            (
                "transaction",
                Q::new()
                    .transaction(stored_entries[i].transaction_id)
                    .kind(EntryKind::Manual)
                    .action(h),
            ),
        ];
        for (filter, q) in exact {
            let found = audit
                .list(&q)
                .await
                .map_err(|e| format!("{filter} {h:?}: {e}"))?;
            assert_eq!(actions(&found), [h], "{filter} {h:?}");
            let count = audit.count(&q).await?.value();
            assert_eq!(count, 1, "count {filter} {h:?}");
        }
        let mut prefix: Vec<(&str, Q)> = vec![
            ("action_prefix", Q::new().action_prefix(h)),
            ("search", Q::new().search(h)),
            (
                "action_pattern *",
                Q::new().action_pattern(&format!("{h}*")),
            ),
        ];
        if !h.ends_with('*') {
            prefix.push(("action_pattern", Q::new().action_pattern(h)));
        }
        for (filter, q) in prefix {
            let expected = match (filter, ActionMatch::pattern(h)) {
                ("action_pattern", ActionMatch::Exact(_)) => vec![h.to_owned()],
                _ => starting_with(h),
            };
            let found = audit
                .list(&q.limit(1000))
                .await
                .map_err(|e| format!("{filter} {h:?}: {e}"))?;
            assert_eq!(actions(&found), expected, "{filter} {h:?}");
        }
        assert_eq!(
            audit.search_actions(h, 1000).await?,
            starting_with(h),
            "search_actions {h:?}"
        );
    }
    let mut all: Vec<String> = HOSTILE.iter().map(|h| (*h).to_owned()).collect();
    all.sort();
    let facets = audit.facets().await?;
    assert_eq!(facets.actions, all);
    assert_eq!(facets.resources, all);
    assert_eq!(facets.modes, all);
    assert_eq!(facets.modules, all);
    assert_eq!(
        audit.count(&AuditQuery::new()).await?.value(),
        u64::try_from(HOSTILE.len())?,
        "the log is intact"
    );
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_tables WHERE tablename IN ('hostile_log', 'hostile_log_changes', 'hostile_log_commits')",
    )
    .fetch_one(&pool)
    .await?;
    assert_eq!(tables, 3);
    Ok(())
}

fn field_of<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
    match result {
        Err(Error::Audit(events_core::AuditError::InvalidFilter { field, .. })) => field,
        other => format!("not InvalidFilter: {other:?}"),
    }
}

/// Paging bounds are typed `InvalidFilter` errors naming the bound (pages
/// from 1, sizes 1..=1000 as documented), deep but representable pages are
/// empty pages, and cursors that were tampered with (every truncation and
/// single-character change of a real one, garbage, base64, foreign ids) are
/// either still a well-formed position, which pages normally, or
/// `InvalidFilter` for `cursor`; never a panic or a SQL error.
#[sqlx::test(migrations = false)]
async fn paging_bounds_and_tampered_cursors_are_typed(pool: PgPool) -> TestResult {
    let store = PgEventStore::<HostileLog>::new(pool.clone());
    store.migrate().await?;
    let audit = store.audit();
    for i in 0..30 {
        audit
            .track(ManualEntry::new(format!("entry.{i:02}")))
            .await?;
    }
    type Q = AuditQuery<HostileLog>;
    let bounds: Vec<(Q, &str)> = vec![
        (Q::new().page(0, 10), "page"),
        (Q::new().page(1, 0), "per_page"),
        (Q::new().page(1, 1001), "per_page"),
        (Q::new().page(1, u64::MAX), "per_page"),
        (Q::new().page(u64::MAX, 1000), "page"),
        (Q::new().offset(u64::MAX), "offset"),
        (Q::new().offset(0).limit(0), "limit"),
        (Q::new().after(None).limit(0), "limit"),
        (Q::new().after(None).limit(1001), "limit"),
    ];
    for (q, field) in bounds {
        assert_eq!(field_of(audit.query(&q).await), field, "{q:?}");
        assert_eq!(field_of(audit.list(&q).await), field, "list {q:?}");
        assert_eq!(field_of(audit.count(&q).await), field, "count {q:?}");
    }
    assert_eq!(field_of(audit.recent(0).await), "limit");
    assert_eq!(field_of(audit.recent(u64::MAX).await), "limit");
    assert_eq!(field_of(audit.recent_page(0, 10, None).await), "page");
    assert_eq!(field_of(audit.search_actions("e", 0).await), "limit");
    assert_eq!(field_of(audit.search_actions("e", u64::MAX).await), "limit");
    assert_eq!(field_of(audit.distinct_actors(u64::MAX).await), "limit");
    // The documented extremes that fit are pages, full or empty.
    assert_eq!(
        audit.query(&Q::new().page(1, 1000)).await?.entries.len(),
        30
    );
    assert!(audit.query(&Q::new().page(4, 10)).await?.entries.is_empty());
    assert!(
        audit
            .query(&Q::new().page(1 << 40, 1))
            .await?
            .entries
            .is_empty()
    );
    assert!(
        audit
            .query(&Q::new().offset(i64::MAX as u64).limit(5))
            .await?
            .entries
            .is_empty()
    );

    // A real cursor pages on.
    let first = audit.query(&Q::new().after(None).limit(7)).await?;
    let cursor = first.next_cursor.ok_or("a next page")?;
    let text = cursor.to_string();
    let parsed: Cursor = text.parse()?;
    assert_eq!(parsed, cursor);
    let second = audit.query(&Q::new().after(Some(parsed)).limit(7)).await?;
    let all = audit.list_all(Q::new()).await?;
    assert_eq!(
        second.entries.iter().map(|e| e.id).collect::<Vec<_>>(),
        all[7..14].iter().map(|e| e.id).collect::<Vec<_>>()
    );

    // Every truncation and single-character change of it.
    let mut variants: Vec<String> = (0..text.len())
        .filter(|k| text.is_char_boundary(*k))
        .map(|k| text[..k].to_owned())
        .collect();
    for (k, _) in text.char_indices() {
        for c in ['.', 'x', '9', '0', '-', 'i', 'u', 'é', '\0', '%', '\'', ' '] {
            let mut v = text.clone();
            v.replace_range(k..=k, &c.to_string());
            variants.push(v);
        }
    }
    variants.extend(
        [
            "",
            "Zm9vYmFy",
            "YzEub2QuMTcxODAwMDAwMDEyMzQ1Ni5pNDI=",
            "c1.od.1.i1\0",
            "c1.od.-9223372036854775808.i1",
            "c1.od.9223372036854775807.i1",
            "c1.od.0.i-9223372036854775808",
            "c1.od.0.u00000000000000000000000000000000",
            "c1.od.0.uzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
            "c1.od.1.i1' OR 1=1 --",
            "💥",
        ]
        .map(str::to_owned),
    );
    variants.push("c1.od.1.i".to_owned() + &"9".repeat(10_000));
    let (mut pages, mut refused) = (0, 0);
    for v in &variants {
        match v.parse::<Cursor>() {
            Ok(c) => match audit.query(&Q::new().after(Some(c)).limit(5)).await {
                Ok(_) => pages += 1,
                Err(Error::Audit(events_core::AuditError::InvalidFilter { field, .. }))
                    if field == "cursor" =>
                {
                    refused += 1
                }
                Err(e) => panic!("cursor {v:?}: {e}"),
            },
            Err(Error::Audit(events_core::AuditError::InvalidFilter { field, .. }))
                if field == "cursor" =>
            {
                refused += 1
            }
            Err(e) => panic!("parsing {v:?}: {e}"),
        }
        let from_json: Result<Cursor, _> = serde_json::from_value(json!(v));
        assert_eq!(from_json.is_ok(), v.parse::<Cursor>().is_ok(), "{v:?}");
    }
    assert!(pages > 0 && refused > 0, "{pages} pages, {refused} refused");
    // Order code swapped: a well-formed cursor of another order is refused.
    let other_order = text.replacen(".od.", ".oa.", 1).parse::<Cursor>()?;
    assert_eq!(
        field_of(audit.query(&Q::new().after(Some(other_order))).await),
        "cursor"
    );
    // A UUID id on an integer-keyed log.
    let foreign = Cursor {
        id: EventId::Uuid(uuid::Uuid::now_v7()),
        ..cursor
    };
    assert_eq!(
        field_of(audit.query(&Q::new().after(Some(foreign))).await),
        "cursor"
    );

    // The follower's cursor: out-of-range positions read nothing, a foreign id
    // is a typed error, limits below 1 read nothing.
    use events_postgres::follow::Position;
    let far = store
        .read_committed(
            Some(Position {
                txid: u64::MAX,
                id: EventId::Integer(i64::MAX),
            }),
            10,
        )
        .await?;
    assert!(far.events.is_empty());
    let err = store
        .read_committed(
            Some(Position {
                txid: 0,
                id: EventId::Uuid(uuid::Uuid::nil()),
            }),
            10,
        )
        .await
        .expect_err("foreign id");
    assert!(matches!(err, Error::InvalidValue { .. }), "{err}");
    assert!(store.read_committed(None, -5).await?.events.is_empty());
    assert!(store.read_committed(None, i64::MAX).await.is_ok());
    Ok(())
}

/// Inserts a manual entry of `fault_log` at exactly `at` through `conn`.
async fn entry_at(
    conn: &mut sqlx::PgConnection,
    action: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO fault_log (action, action_type, version, occurred_at) VALUES ($1, 'manual', 1, $2)",
    )
    .bind(action)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// `prune(older_than)` deletes the entries "that occurred more than
/// `older_than` ago": its cutoff is the database clock of its transaction minus
/// `older_than`, and an entry exactly at the cutoff is kept while one a
/// microsecond earlier goes. The prune is held at its DELETE by a SHARE lock
/// while the test reads the prune transaction's start (`xact_start`, which is
/// its `now()`) and writes entries at the cutoff and either side of it.
#[sqlx::test(migrations = false)]
async fn prune_keeps_entries_exactly_at_the_cutoff(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let audit: AuditLog<FaultLog> = store.audit();
    let older_than = chrono::Duration::days(30);

    let mut blocker = pool.begin().await?;
    sqlx::query("LOCK TABLE fault_log IN SHARE MODE")
        .execute(&mut *blocker)
        .await?;
    let prune = tokio::spawn({
        let audit = audit.clone();
        async move { audit.prune(older_than).await }
    });
    let deadline = std::time::Instant::now() + crate::fixture::STEP;
    let started: DateTime<Utc> = loop {
        let row: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT xact_start FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND query LIKE '%fault_log_prune%'",
        )
        .fetch_optional(&pool)
        .await?;
        if let Some(at) = row {
            break at;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the prune never waited for the lock"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    let cutoff = started - older_than;
    let micro = chrono::Duration::microseconds(1);
    entry_at(&mut blocker, "boundary.before", cutoff - micro).await?;
    entry_at(&mut blocker, "boundary.at", cutoff).await?;
    entry_at(&mut blocker, "boundary.after", cutoff + micro).await?;
    entry_at(
        &mut blocker,
        "boundary.ancient",
        cutoff - chrono::Duration::days(400),
    )
    .await?;
    blocker.commit().await?;

    let report = within("the prune", prune).await???;
    assert_eq!(
        report.cutoff, cutoff,
        "the cutoff is now() of the prune minus older_than"
    );
    assert_eq!(report.deleted, 2, "only the entries before the cutoff");
    let left: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM fault_log WHERE action LIKE 'boundary.%' ORDER BY occurred_at",
    )
    .fetch_all(&pool)
    .await?;
    assert_eq!(left, ["boundary.at", "boundary.after"]);
    let pruned = audit.get(report.entry).await?;
    assert_eq!(pruned.action, "audit.pruned");
    assert_eq!(pruned.metadata["deleted"], 2);
    // A later prune has a later cutoff: the two boundary entries go then.
    assert_eq!(audit.prune(older_than).await?.deleted, 2);
    Ok(())
}
