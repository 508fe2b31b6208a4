//! Retention in batches (`AuditLog::prune_in_batches`, the owner's
//! `<table>_prune_batch`): the same rows go as with one prune, oldest first,
//! each batch committed and recorded as its own `audit.pruned` entry; action
//! events stay on a log that replays unless replay is given up, and then the
//! horizon is recorded; a cutoff in the future and an empty batch are refused,
//! and the append-only guard holds again right after a batch. The roles that
//! may call it are checked with the others in [`crate::trust`].

use events_core::audit::ManualEntry;
use events_core::replay::Selection;
use events_core::{AuditError, Error, ReplayError};
use events_postgres::audit::PruneBatch;
use events_tests::app::{self, User};
use sqlx::{PgConnection, PgPool};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// 20.5 days: no entry of [`backdate`] lies within half a day of the cutoff,
/// so prunes started a moment apart delete the same entries.
fn period() -> chrono::Duration {
    chrono::Duration::hours(20 * 24 + 12)
}

/// Forty entries, one per day from 1 to 40 days old: each third an event of an
/// action (`User.create`), the others manual entries (`user.login`); every
/// other one with recorded changes.
async fn backdate(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO events (resource, record_id, action, action_type, version, occurred_at) \
         SELECT CASE WHEN d % 3 = 0 THEN 'User' END, CASE WHEN d % 3 = 0 THEN gen_random_uuid() END, \
                CASE WHEN d % 3 = 0 THEN 'create' ELSE 'user.login' END, \
                CASE WHEN d % 3 = 0 THEN 'create' ELSE 'manual' END, \
                1, now() - make_interval(days => d) \
         FROM generate_series(1, 40) d",
    )
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO events_changes (event_id, new_values) \
         SELECT id, '{\"name\": \"x\"}' FROM events \
         WHERE occurred_at < now() - interval '12 hours' AND id % 2 = 0",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The entries that are not a prune's own record, and the events with changes.
async fn kept(conn: &mut PgConnection) -> Result<(Vec<i64>, Vec<i64>), sqlx::Error> {
    let events =
        sqlx::query_scalar("SELECT id FROM events WHERE action <> 'audit.pruned' ORDER BY id")
            .fetch_all(&mut *conn)
            .await?;
    let changes = sqlx::query_scalar("SELECT event_id FROM events_changes ORDER BY event_id")
        .fetch_all(&mut *conn)
        .await?;
    Ok((events, changes))
}

/// The replay horizon's rows: when and how many action events.
async fn horizon(pool: &PgPool) -> Result<Vec<(chrono::DateTime<chrono::Utc>, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT pruned_before, deleted_actions FROM events_replay_horizon ORDER BY pruned_at",
    )
    .fetch_all(pool)
    .await
}

fn sqlstate(err: &sqlx::Error) -> Option<String> {
    err.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned())
}

#[sqlx::test(migrations = false)]
async fn batches_delete_what_one_prune_deletes_oldest_first(pool: PgPool) -> TestResult {
    let store = app::store(&pool).await?;
    User::create(app::create_input("Ada")).run(&store).await?;
    store.audit().track(ManualEntry::new("user.login")).await?;
    backdate(&pool).await?;
    // What one prune deletes, rolled back.
    let one_prune = {
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT * FROM events_prune($1, false)")
            .bind(period().num_milliseconds())
            .execute(&mut *tx)
            .await?;
        let kept = kept(&mut tx).await?;
        tx.rollback().await?;
        kept
    };
    // The manual entries older than the period, oldest first: 13 of them.
    let by_age: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM events WHERE action_type = 'manual' AND occurred_at < now() - $1 \
         ORDER BY occurred_at, id",
    )
    .bind(period())
    .fetch_all(&pool)
    .await?;
    assert_eq!(by_age.len(), 13);

    let audit = store.audit();
    let mut prune = audit.prune_in_batches(period(), 3).await?;
    assert!(!prune.gives_up_replay());
    assert!(prune.report().is_none(), "no batch yet");
    let mut batches: Vec<PruneBatch> = Vec::new();
    while let Some(batch) = prune.next_batch().await? {
        // Oldest first: what is gone is always a prefix of the entries by age.
        let left: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM events WHERE id = ANY($1) ORDER BY occurred_at, id")
                .bind(&by_age)
                .fetch_all(&pool)
                .await?;
        let total = usize::try_from(batch.total_deleted)?;
        assert_eq!(left, by_age[total..], "after batch {}", batch.number);
        batches.push(batch);
    }
    let shape: Vec<(u64, u64, u64, bool)> = batches
        .iter()
        .map(|b| (b.number, b.deleted, b.total_deleted, b.more))
        .collect();
    assert_eq!(
        shape,
        [
            (1, 3, 3, true),
            (2, 3, 6, true),
            (3, 3, 9, true),
            (4, 3, 12, true),
            (5, 1, 13, false)
        ]
    );
    assert!(prune.is_done());
    assert_eq!(prune.batches(), 5);
    let report = prune.report().ok_or("a report after the batches")?;
    assert_eq!((report.deleted, report.deleted_actions), (13, 0));
    assert_eq!(Some(&report.entry), batches.last().map(|b| &b.entry));
    assert_eq!(report.cutoff, prune.cutoff());

    // The same rows survive as with one prune, changes included.
    assert_eq!(kept(&mut *pool.acquire().await?).await?, one_prune);
    // Each batch recorded itself.
    for batch in &batches {
        let entry = audit.get(batch.entry).await?;
        assert_eq!(entry.action, "audit.pruned");
        let m = &entry.metadata;
        assert_eq!(m["deleted"], batch.deleted, "{m}");
        assert_eq!(m["deleted_actions"], 0, "{m}");
        assert_eq!(m["batch_size"], 3, "{m}");
        assert_eq!(m["more"], batch.more, "{m}");
        assert_eq!(m["gave_up_replay"], false, "{m}");
        let cutoff = chrono::DateTime::parse_from_rfc3339(m["cutoff"].as_str().ok_or("cutoff")?)?;
        assert_eq!(cutoff, report.cutoff, "{m}");
    }
    // Action events stayed: no horizon, replay still possible.
    assert!(horizon(&pool).await?.is_empty());
    assert_eq!(store.verify_replayable(&Selection::All).await?.events, 14);

    // Done is done; a new prune finds nothing left before its cutoff.
    assert!(prune.next_batch().await?.is_none());
    let again = audit
        .prune_in_batches(period(), 3)
        .await?
        .run(|_| {})
        .await?;
    assert_eq!(again.deleted, 0);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn giving_up_replay_in_batches_deletes_action_events_and_records_the_horizon(
    pool: PgPool,
) -> TestResult {
    let store = app::store(&pool).await?;
    for name in ["Ada", "Bea", "Cy"] {
        User::create(app::create_input(name)).run(&store).await?;
    }
    let audit = store.audit();
    for action in ["user.login", "user.logout"] {
        audit.track(ManualEntry::new(action)).await?;
    }

    // On a log that replays, the action events stay.
    let report = audit
        .prune_in_batches(chrono::Duration::zero(), 1)
        .await?
        .run(|_| {})
        .await?;
    assert_eq!((report.deleted, report.deleted_actions), (2, 0));
    assert!(horizon(&pool).await?.is_empty());
    assert_eq!(store.verify_replayable(&Selection::All).await?.events, 3);

    // Giving replay up, they go too, oldest first: the three events, then the
    // first prune's two records.
    let mut seen: Vec<PruneBatch> = Vec::new();
    let prune = audit
        .prune_in_batches_giving_up_replay(chrono::Duration::zero(), 2)
        .await?;
    assert!(prune.gives_up_replay());
    let report = prune.run(|batch| seen.push(batch.clone())).await?;
    assert_eq!((report.deleted, report.deleted_actions), (5, 3));
    let per_batch: Vec<(u64, u64)> = seen
        .iter()
        .map(|b| (b.deleted, b.deleted_actions))
        .collect();
    assert_eq!(per_batch, [(2, 2), (2, 1), (1, 0)]);
    // Each batch that deleted action events recorded the cutoff as the horizon.
    assert_eq!(
        horizon(&pool).await?,
        [(report.cutoff, 2), (report.cutoff, 1)]
    );
    match store.verify_replayable(&Selection::All).await {
        Err(Error::Replay(ReplayError::Horizon { before, .. })) => {
            assert_eq!(before, report.cutoff)
        }
        other => return Err(format!("expected ReplayError::Horizon, got {other:?}").into()),
    }
    for batch in &seen {
        let entry = audit.get(batch.entry).await?;
        assert_eq!(entry.metadata["gave_up_replay"], true);
        assert_eq!(entry.metadata["deleted_actions"], batch.deleted_actions);
    }
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn a_future_cutoff_or_an_empty_batch_is_refused_and_the_guard_holds(
    pool: PgPool,
) -> TestResult {
    let store = app::store(&pool).await?;
    let audit = store.audit();
    audit.track(ManualEntry::new("user.login")).await?;
    let entries = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events")
            .fetch_one(&pool)
            .await
    };

    // The function refuses, deleting and recording nothing.
    for sql in [
        "SELECT * FROM events_prune_batch(now() + interval '1 minute', false, 10)",
        "SELECT * FROM events_prune_batch(NULL, false, 10)",
        "SELECT * FROM events_prune_batch(now(), false, 0)",
        "SELECT * FROM events_prune_batch(now(), false, -1)",
        "SELECT * FROM events_prune_batch(now(), false, NULL)",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.expect_err(sql);
        assert_eq!(sqlstate(&err).as_deref(), Some("22023"), "{sql}: {err}");
    }
    assert_eq!(entries().await?, 1);

    // The API refuses first, naming the argument.
    for (period, size, field) in [
        (chrono::Duration::zero(), 0, "batch_size"),
        (chrono::Duration::days(-1), 10, "older_than"),
    ] {
        match audit.prune_in_batches(period, size).await {
            Err(Error::Audit(AuditError::InvalidFilter { field: f, .. })) => assert_eq!(f, field),
            other => return Err(format!("expected InvalidFilter on {field}, got {other:?}").into()),
        }
    }
    assert_eq!(entries().await?, 1);

    // A period beyond any history deletes nothing, and says so once.
    let report = audit
        .prune_in_batches(chrono::Duration::MAX, 10)
        .await?
        .run(|_| {})
        .await?;
    assert_eq!(report.deleted, 0);
    assert_eq!(report.cutoff, chrono::DateTime::<chrono::Utc>::MIN_UTC);
    assert_eq!(entries().await?, 2, "the entry and the prune's record");

    // Right after a batch, in its transaction, the owner's own DELETE is
    // refused again: the batch lowered the flag it raised.
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT * FROM events_prune_batch(now(), false, 1)")
        .execute(&mut *tx)
        .await?;
    let err = sqlx::query("DELETE FROM events")
        .execute(&mut *tx)
        .await
        .expect_err("the append-only guard");
    assert!(Error::from_sqlx("owner", err).is_append_only());
    Ok(())
}
