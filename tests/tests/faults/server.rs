//! The server refusing or cutting work: unreachable, a lock or statement
//! timeout on a second writer, an idle-in-transaction timeout. Each is a typed
//! `Error::Database`, quickly, and stores nothing of the failed call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use events_core::Error;
use events_core::audit::{AuditQuery, ManualEntry};
use events_core::replay::Replay;
use events_postgres::PgEventStore;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::sync::Notify;

use crate::fixture::{
    FaultLog, Hold, Job, TestResult, closed_port, input, label, no_idle_transactions, park,
    pool_with, setup, sqlstate, stored, with_label, within, within_for,
};

/// A pool pointed at a port nothing listens on: every entry point returns
/// `Error::Database` within the acquire timeout; nothing panics.
#[sqlx::test(migrations = false)]
async fn an_unreachable_server_is_a_quick_typed_error(pool: PgPool) -> TestResult {
    let options = pool.connect_options().as_ref().clone().port(closed_port()?);
    let dead = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(300))
        .connect_lazy_with(options);
    let store = PgEventStore::<FaultLog>::new(dead);
    let quick = Duration::from_secs(5);
    let started = Instant::now();

    let err = within_for(quick, "run", Job::create(input("x")).run(&store))
        .await?
        .expect_err("no server");
    assert!(matches!(err, Error::Database { .. }), "{err}");
    let err = within_for(quick, "migrate", store.migrate())
        .await?
        .expect_err("no server");
    assert!(matches!(err, Error::Database { .. }), "{err}");
    let err = within_for(quick, "replay", store.replay(Replay::all()))
        .await?
        .expect_err("no server");
    assert!(matches!(err, Error::Database { .. }), "{err}");
    let err = within_for(quick, "read_committed", store.read_committed(None, 10))
        .await?
        .expect_err("no server");
    assert!(matches!(err, Error::Database { .. }), "{err}");
    let audit = store.audit();
    let err = within_for(quick, "audit query", audit.query(&AuditQuery::new()))
        .await?
        .expect_err("no server");
    assert!(matches!(err, Error::Database { .. }), "{err}");
    let err = within_for(quick, "audit track", audit.track(ManualEntry::new("a.b")))
        .await?
        .expect_err("no server");
    assert!(matches!(err, Error::Database { .. }), "{err}");
    assert!(
        within_for(quick, "audit log", audit.log(ManualEntry::new("a.b")))
            .await?
            .is_none(),
        "the lenient writer reports nothing and does not fail"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    Ok(())
}

/// Holds `record`'s lock in a relabel parked until the returned notify.
async fn hold_lock(
    store: &PgEventStore<FaultLog>,
    record: uuid::Uuid,
) -> Result<
    (
        String,
        Arc<Notify>,
        tokio::task::JoinHandle<Result<crate::fixture::Done, Error>>,
    ),
    crate::fixture::BoxError,
> {
    let first = label("first-");
    let release = Arc::new(Notify::new());
    let started = park(&first, Hold::Until(Arc::clone(&release)));
    let call = tokio::spawn({
        let store = store.clone();
        let first = first.clone();
        async move { Job::relabel(record, input(&first)).run(&store).await }
    });
    within("the first writer to hold the lock", started).await??;
    Ok((first, release, call))
}

/// A second writer on a record whose lock the first holds, on connections with
/// `lock_timeout` or `statement_timeout` (shorter than the call's deadline,
/// which never loosens them): it fails with the server's SQLSTATE (55P03 in
/// `Error::Database`, 57014 in `Error::Timeout`), stores nothing; the first
/// commits.
#[sqlx::test(migrations = false)]
async fn a_second_writer_times_out_on_the_record_lock(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let job = within("create", Job::create(input(&label("a-"))).run(&store)).await??;

    for (setting, code) in [("lock_timeout", "55P03"), ("statement_timeout", "57014")] {
        let (first, release, call) = hold_lock(&store, job.id).await?;
        let impatient = PgEventStore::<FaultLog>::new(pool_with(
            &pool,
            &[(setting, "300ms")],
            "faults-impatient",
        ));
        let second = label("second-");
        let started = Instant::now();
        let err = within(
            "the second writer",
            Job::relabel(job.id, input(&second)).run(&impatient),
        )
        .await?
        .expect_err("the lock is held");
        assert!(
            started.elapsed() >= Duration::from_millis(250),
            "it waited first"
        );
        // A lock timeout is a database error; a statement timeout, a timeout
        // the database ended (both keep the SQLSTATE).
        match setting {
            "lock_timeout" => assert!(matches!(err, Error::Database { .. }), "{err}"),
            _ => assert!(matches!(err, Error::Timeout { after: None, .. }), "{err}"),
        }
        assert_eq!(sqlstate(&err).as_deref(), Some(code), "{setting}: {err}");
        assert!(
            err.to_string().contains("advisory lock"),
            "the context names the lock: {err}"
        );
        assert_eq!(with_label(&pool, &second).await?, (0, 0));

        release.notify_one();
        within("the first writer", call).await???;
        assert_eq!(
            with_label(&pool, &first).await?,
            (1, 1),
            "the first committed"
        );
        // The impatient pool still works once the lock is free.
        within(
            "the second writer again",
            Job::relabel(job.id, input(&second)).run(&impatient),
        )
        .await??;
        assert_eq!(with_label(&pool, &second).await?, (1, 1));
    }
    let jobs = stored(&pool).await?.jobs;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].rev, 4);
    Ok(())
}

/// A body statement running past `statement_timeout` is cancelled by the
/// server: `Error::Database` 57014, nothing stored, the pool goes on.
#[sqlx::test(migrations = false)]
async fn a_body_past_statement_timeout_stores_nothing(pool: PgPool) -> TestResult {
    setup(&pool).await?;
    let store = PgEventStore::<FaultLog>::new(pool_with(
        &pool,
        &[("statement_timeout", "300ms")],
        "faults-statement-timeout",
    ));
    let slow = label("slow-");
    let _started = park(&slow, Hold::Server(5.0));
    let err = within("the slow call", Job::create(input(&slow)).run(&store))
        .await?
        .expect_err("cancelled by statement_timeout");
    assert_eq!(sqlstate(&err).as_deref(), Some("57014"), "{err}");
    assert_eq!(with_label(&pool, &slow).await?, (0, 0));
    within("next call", Job::create(input(&label("b-"))).run(&store)).await??;
    Ok(())
}

/// A body that sleeps on the client longer than
/// `idle_in_transaction_session_timeout`: the server ends the session, the
/// call fails with `Error::Database`, nothing is stored, and the pool replaces
/// the dead connection.
#[sqlx::test(migrations = false)]
async fn idle_in_transaction_timeout_fails_the_call(pool: PgPool) -> TestResult {
    setup(&pool).await?;
    let sleepy_pool = pool_with(
        &pool,
        &[("idle_in_transaction_session_timeout", "200ms")],
        "faults-idle",
    );
    let store = PgEventStore::<FaultLog>::new(sleepy_pool);
    let sleepy = label("sleepy-");
    let _started = park(&sleepy, Hold::Client(Duration::from_millis(800)));
    let err = within("the sleepy call", Job::create(input(&sleepy)).run(&store))
        .await?
        .expect_err("the session was ended");
    assert!(
        matches!(
            err,
            Error::Database { .. } | Error::Timeout { after: None, .. }
        ),
        "{err}"
    );
    assert_eq!(with_label(&pool, &sleepy).await?, (0, 0));
    assert!(stored(&pool).await?.events.is_empty());
    for _ in 0..3 {
        within("next call", Job::create(input(&label("b-"))).run(&store)).await??;
    }
    no_idle_transactions(&pool).await?;
    Ok(())
}
