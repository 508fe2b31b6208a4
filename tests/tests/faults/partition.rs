//! Network partitions and slow databases: a call gets an answer within its
//! deadline, and the advisory lock of a call cut off from its client is freed
//! by the database.
//!
//! The partition is a TCP proxy between the pool and PostgreSQL that, when
//! frozen, stops forwarding in both directions but keeps both sockets open: no
//! reset, no close, as a dropped route or a stale NAT entry looks to either
//! side. Each test is bounded, so a hang fails it instead of stalling the run.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use events_core::{Error, EventStore as _, each};
use events_postgres::PgEventStore;
use events_tests::app::{self, UpdateUser, User, create_input};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, PgPool};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The deadline the tests give calls.
const DEADLINE: Duration = Duration::from_secs(2);
/// Scheduling slack on a busy machine.
const MARGIN: Duration = Duration::from_millis(1500);
/// No test takes longer than this, whatever goes wrong.
const TEST_LIMIT: Duration = Duration::from_secs(60);

/// Runs a test body, failing it after [`TEST_LIMIT`].
async fn bounded(body: impl Future<Output = TestResult>) -> TestResult {
    tokio::time::timeout(TEST_LIMIT, body)
        .await
        .map_err(|_| format!("test did not finish within {TEST_LIMIT:?}"))?
}

/// A TCP proxy to PostgreSQL whose connections can be frozen.
struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: AbortHandle,
}

#[derive(Default)]
struct Shared {
    /// One valve per connection: `true` freezes it.
    valves: Mutex<Vec<Arc<watch::Sender<bool>>>>,
    /// When set, the first client message containing these bytes freezes its
    /// connection before it is forwarded.
    trigger: Mutex<Option<&'static [u8]>>,
    /// Client turns: messages the client sent after the server last spoke.
    turns: AtomicUsize,
    server_spoke: AtomicBool,
    /// Forwarding tasks, aborted (closing their sockets) when the proxy drops.
    tasks: Mutex<Vec<AbortHandle>>,
}

impl Proxy {
    /// A proxy on a free local port to the server `connect` points at.
    async fn start(connect: &PgConnectOptions) -> std::io::Result<Proxy> {
        let upstream = format!("{}:{}", connect.get_host(), connect.get_port());
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let accept = tokio::spawn({
            let shared = Arc::clone(&shared);
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        continue;
                    };
                    let valve = Arc::new(watch::channel(false).0);
                    lock(&shared.valves).push(Arc::clone(&valve));
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    let up = tokio::spawn(pump(
                        client_read,
                        server_write,
                        Arc::clone(&valve),
                        true,
                        Arc::clone(&shared),
                    ));
                    let down = tokio::spawn(pump(
                        server_read,
                        client_write,
                        valve,
                        false,
                        Arc::clone(&shared),
                    ));
                    lock(&shared.tasks).extend([up.abort_handle(), down.abort_handle()]);
                }
            }
        })
        .abort_handle();
        Ok(Proxy {
            addr,
            shared,
            accept,
        })
    }

    /// `connect`, through the proxy.
    fn options(&self, connect: &PgConnectOptions) -> PgConnectOptions {
        connect
            .clone()
            .host(&self.addr.ip().to_string())
            .port(self.addr.port())
    }

    /// Freezes every connection open now; later ones flow.
    fn freeze(&self) {
        for valve in lock(&self.shared.valves).iter() {
            valve.send_replace(true);
        }
    }

    /// Freezes the connection that next sends `bytes`, before they reach the server.
    fn freeze_before(&self, bytes: &'static [u8]) {
        *lock(&self.shared.trigger) = Some(bytes);
    }

    /// Client turns so far (round trips, on one connection at a time).
    fn turns(&self) -> usize {
        self.shared.turns.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for task in lock(&self.shared.tasks).drain(..) {
            task.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Forwards `from` to `to` while the valve is open; data read when it closes is
/// held, not forwarded, and nothing more is read. Returning drops `to`, which
/// passes a close on.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    valve: Arc<watch::Sender<bool>>,
    client_to_server: bool,
    shared: Arc<Shared>,
) {
    let mut open = valve.subscribe();
    let mut buf = vec![0_u8; 64 * 1024];
    loop {
        if open.wait_for(|frozen| !frozen).await.is_err() {
            return;
        }
        // End of stream or an error is held like data: a frozen connection
        // shows the other side no close either.
        let n = from.read(&mut buf).await.unwrap_or(0);
        let chunk = &buf[..n];
        if client_to_server {
            if shared.server_spoke.swap(false, Ordering::SeqCst) {
                shared.turns.fetch_add(1, Ordering::SeqCst);
            }
            let mut trigger = lock(&shared.trigger);
            if trigger.is_some_and(|t| chunk.windows(t.len()).any(|w| w == t)) {
                *trigger = None;
                valve.send_replace(true);
            }
        } else {
            shared.server_spoke.store(true, Ordering::SeqCst);
        }
        if open.wait_for(|frozen| !frozen).await.is_err() || n == 0 {
            return;
        }
        if to.write_all(chunk).await.is_err() {
            return;
        }
    }
}

/// The direct pool, the app store on it with a user, and a proxy to the same
/// database.
async fn setup(
    opts: PgPoolOptions,
    connect: &PgConnectOptions,
) -> Result<(PgPool, PgEventStore<app::EventLog>, app::User, Proxy), Box<dyn std::error::Error>> {
    let direct = opts.connect_with(connect.clone()).await?;
    let store = app::store(&direct).await?;
    let user = User::create(create_input("Ada")).run(&store).await?;
    let proxy = Proxy::start(connect).await?;
    Ok((direct, store, user, proxy))
}

/// A pool of one connection through `proxy`.
async fn proxied_pool(proxy: &Proxy, connect: &PgConnectOptions) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(1)
        .connect_with(proxy.options(connect))
        .await
}

/// Holds the row of user `id` locked in a transaction on `pool`.
async fn lock_row(
    pool: &PgPool,
    id: uuid::Uuid,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// The pid of the backend whose statement starting with `prefix` waits for a lock.
async fn waiting_backend(pool: &PgPool, prefix: &str) -> Result<i32, Box<dyn std::error::Error>> {
    let started = Instant::now();
    loop {
        let pid: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND starts_with(query, $1)",
        )
        .bind(prefix)
        .fetch_optional(pool)
        .await?;
        if let Some(pid) = pid {
            return Ok(pid);
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!("no backend waits in `{prefix}..`").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The state of backend `pid` in `pg_stat_activity`; `None` once it is gone.
async fn backend_state(pool: &PgPool, pid: i32) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT coalesce(state, '') FROM pg_stat_activity WHERE pid = $1")
        .bind(pid)
        .fetch_optional(pool)
        .await
}

/// The names stored in the events of user `id`, in order.
async fn event_names(
    store: &PgEventStore<app::EventLog>,
    id: uuid::Uuid,
) -> Result<Vec<String>, Error> {
    Ok(store
        .events_for_record("User", id)
        .await?
        .into_iter()
        .map(|e| e.data["name"].as_str().unwrap_or_default().to_owned())
        .collect())
}

/// Asserts `result` is a missed deadline of `after` whose context contains `what`.
fn assert_timeout<T: std::fmt::Debug>(result: Result<T, Error>, after: Duration, what: &str) {
    match result {
        Err(Error::Timeout {
            context,
            after: Some(passed),
            ..
        }) => {
            assert_eq!(passed, after);
            assert!(context.contains(what), "{context}");
        }
        other => panic!("expected a timeout after {after:?} of {what}, got {other:?}"),
    }
}

fn rename(name: &str) -> UpdateUser {
    UpdateUser {
        name: name.to_owned(),
    }
}

#[sqlx::test(migrations = false)]
async fn frozen_call_times_out_and_the_database_frees_its_lock(
    opts: PgPoolOptions,
    connect: PgConnectOptions,
) -> TestResult {
    bounded(async {
        let (direct, store, user, proxy) = setup(opts, &connect).await?;
        let far = proxied_pool(&proxy, &connect).await?;
        let far_store = PgEventStore::<app::EventLog>::new(far.clone()).with_deadline(DEADLINE);

        // The call takes the advisory lock and writes its event, then waits for
        // a row another transaction holds; the network freezes meanwhile, and
        // the row is released: the server finishes the UPDATE and sits idle in
        // the transaction, its answer stuck in the proxy.
        let blocker = lock_row(&direct, user.id).await?;
        let started = Instant::now();
        let call = tokio::spawn({
            let far_store = far_store.clone();
            async move {
                User::update(user.id, rename("frozen"))
                    .run(&far_store)
                    .await
            }
        });
        let pid = waiting_backend(&direct, "UPDATE users").await?;
        proxy.freeze();
        blocker.commit().await?;

        let result = call.await?;
        let waited = started.elapsed();
        assert_timeout(result, DEADLINE, "action `User.update` (rolled back");
        assert!(
            waited >= DEADLINE && waited < DEADLINE + MARGIN,
            "answered after {waited:?}"
        );

        // Another writer of the same record, not through the proxy, needs the
        // same advisory lock: the server frees it when its idle-in-transaction
        // timeout ends the frozen session.
        let second = Instant::now();
        let renamed = User::update(user.id, rename("second")).run(&store).await?;
        assert_eq!(renamed.name, "second");
        assert!(
            second.elapsed() < DEADLINE + MARGIN,
            "the lock was freed {:?} after the call gave up",
            second.elapsed()
        );
        assert_eq!(backend_state(&direct, pid).await?, None, "session ended");
        assert_eq!(
            event_names(&store, user.id).await?,
            ["Ada", "second"],
            "nothing of the frozen call is stored"
        );

        // The proxied pool's only connection was closed, not handed back stuck
        // in its transaction: the pool opens a new one and serves the next call.
        let again = User::update(user.id, rename("again"))
            .run(&far_store)
            .await?;
        assert_eq!(again.name, "again");
        Ok(())
    })
    .await
}

#[sqlx::test(migrations = false)]
async fn database_cancels_a_frozen_statement_and_frees_its_lock(
    opts: PgPoolOptions,
    connect: PgConnectOptions,
) -> TestResult {
    bounded(async {
        let (direct, store, user, proxy) = setup(opts, &connect).await?;
        let far = proxied_pool(&proxy, &connect).await?;
        let far_store = PgEventStore::<app::EventLog>::new(far.clone()).with_deadline(DEADLINE);

        // Frozen while its UPDATE waits for a row that stays locked: the
        // statement timeout cancels the UPDATE, which aborts the transaction
        // and frees its advisory lock.
        let blocker = lock_row(&direct, user.id).await?;
        let call = tokio::spawn({
            let far_store = far_store.clone();
            async move {
                User::update(user.id, rename("frozen"))
                    .run(&far_store)
                    .await
            }
        });
        let pid = waiting_backend(&direct, "UPDATE users").await?;
        let frozen = Instant::now();
        proxy.freeze();
        assert_timeout(call.await?, DEADLINE, "User.update");

        loop {
            let state = backend_state(&direct, pid).await?;
            if state.as_deref() == Some("idle in transaction (aborted)") {
                break;
            }
            if frozen.elapsed() > 2 * DEADLINE + MARGIN {
                return Err(
                    format!("backend {pid} still {state:?} after {:?}", frozen.elapsed()).into(),
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let advisory: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE pid = $1 AND locktype = 'advisory'",
        )
        .bind(pid)
        .fetch_one(&direct)
        .await?;
        assert_eq!(
            advisory, 0,
            "the aborted transaction holds no advisory lock"
        );
        // A create (another record, so not the locked row) needs the same
        // advisory lock under the tenant scope: it goes through.
        let next = tokio::time::timeout(MARGIN, User::create(create_input("Bea")).run(&store))
            .await
            .map_err(|_| "the advisory lock is still held")??;
        assert_eq!(next.name, "Bea");

        blocker.rollback().await?;
        assert_eq!(event_names(&store, user.id).await?, ["Ada"]);
        Ok(())
    })
    .await
}

#[sqlx::test(migrations = false)]
async fn call_deadline_overrides_the_store_deadline(
    opts: PgPoolOptions,
    connect: PgConnectOptions,
) -> TestResult {
    bounded(async {
        let (direct, store, user, proxy) = setup(opts, &connect).await?;
        // Default deadline (30 s) on the store; 2 s on the call.
        let far = proxied_pool(&proxy, &connect).await?;
        let far_store = PgEventStore::<app::EventLog>::new(far.clone());
        assert_eq!(far_store.deadline(), events_core::DEFAULT_DEADLINE);

        let blocker = lock_row(&direct, user.id).await?;
        let started = Instant::now();
        let call = tokio::spawn({
            let far_store = far_store.clone();
            async move {
                User::rename_many([(user.id, rename("frozen"))])
                    .deadline(DEADLINE)
                    .run(&far_store)
                    .await
            }
        });
        waiting_backend(&direct, "UPDATE users").await?;
        proxy.freeze();
        blocker.commit().await?;
        assert_timeout(
            call.await?,
            DEADLINE,
            "bulk call of `User.update` (1 inputs)",
        );
        assert!(started.elapsed() < DEADLINE + MARGIN);

        // A short store deadline, a long call deadline: a call that waits past
        // the store's deadline for a row lock still commits.
        let short = PgEventStore::<app::EventLog>::new(direct.clone())
            .with_deadline(Duration::from_millis(500));
        let blocker = lock_row(&direct, user.id).await?;
        let call = tokio::spawn({
            let short = short.clone();
            async move {
                User::update(user.id, rename("patient"))
                    .deadline(Duration::from_secs(20))
                    .run(&short)
                    .await
            }
        });
        waiting_backend(&direct, "UPDATE users").await?;
        tokio::time::sleep(Duration::from_millis(1000)).await;
        blocker.commit().await?;
        assert_eq!(call.await??.name, "patient");

        // The store's short deadline applies to calls that set none, waiting
        // for the advisory lock included.
        let mut holder = direct.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(2147483647)")
            .execute(&mut *holder)
            .await?;
        let started = Instant::now();
        let refused = each([User::update(user.id, rename("late"))])
            .run(&short)
            .await;
        assert_timeout(
            refused,
            Duration::from_millis(500),
            "each(..) over 1 calls of `User`",
        );
        assert!(started.elapsed() < Duration::from_millis(500) + MARGIN);
        holder.rollback().await?;
        assert_eq!(event_names(&store, user.id).await?, ["Ada", "patient"]);
        Ok(())
    })
    .await
}

#[sqlx::test(migrations = false)]
async fn calls_within_the_deadline_are_unaffected(
    opts: PgPoolOptions,
    connect: PgConnectOptions,
) -> TestResult {
    bounded(async {
        let (direct, _, user, _proxy) = setup(opts, &connect).await?;
        let one = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(connect.clone())
            .await?;
        let store = PgEventStore::<app::EventLog>::new(one.clone()).with_deadline(DEADLINE);

        let created = User::create_many([create_input("Bo"), create_input("Cy")])
            .run(&store)
            .await?;
        let calls = created.iter().map(|u| User::update(u.id, rename("renamed")));
        assert_eq!(each(calls).run(&store).await?.len(), 2);

        // A call that waits a second for a row lock, under a 2 s deadline.
        let blocker = lock_row(&direct, user.id).await?;
        let call = tokio::spawn({
            let store = store.clone();
            async move { User::update(user.id, rename("waited")).run(&store).await }
        });
        waiting_backend(&direct, "UPDATE users").await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        blocker.commit().await?;
        assert_eq!(call.await??.name, "waited");

        // The database got the deadline for the transaction only: the pooled
        // connection is back to the server's defaults.
        let mut tx = store.begin().await?;
        let inside: (String, String) =
            sqlx::query_as("SELECT current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout')")
                .fetch_one(&mut *tx)
                .await?;
        tx.rollback().await?;
        assert_eq!(
            inside,
            ("3s".to_owned(), "3s".to_owned()),
            "the 2 s deadline and a second of grace, so the client hears its own timeout first"
        );
        let after: (String, String) =
            sqlx::query_as("SELECT current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout')")
                .fetch_one(&one)
                .await?;
        assert_eq!(after, ("0".to_owned(), "0".to_owned()));
        Ok(())
    })
    .await
}

#[sqlx::test(migrations = false)]
async fn the_deadline_costs_no_round_trip(
    opts: PgPoolOptions,
    connect: PgConnectOptions,
) -> TestResult {
    bounded(async {
        let (_direct, _, user, proxy) = setup(opts, &connect).await?;
        let far = proxied_pool(&proxy, &connect).await?;
        let store = PgEventStore::<app::EventLog>::new(far.clone()).with_deadline(DEADLINE);

        // Client turns of `work`, once the pool has its connection back (it
        // tests a released connection with a round trip of its own).
        async fn turns_of(
            proxy: &Proxy,
            far: &PgPool,
            work: impl Future<Output = TestResult>,
        ) -> Result<usize, Box<dyn std::error::Error>> {
            let before = proxy.turns();
            work.await?;
            let started = Instant::now();
            while far.num_idle() < 1 {
                if started.elapsed() > Duration::from_secs(5) {
                    return Err("the connection did not return to the pool".into());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok(proxy.turns() - before)
        }
        let action = || async {
            User::update(user.id, rename("x")).run(&store).await?;
            Ok(())
        };
        let by_hand = || async {
            let mut tx = far.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock(7)")
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE users SET name = $2 WHERE id = $1")
                .bind(user.id)
                .bind("x")
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        };
        let release = || async {
            drop(far.acquire().await?);
            Ok(())
        };
        // Warm up: statements are prepared once per connection.
        turns_of(&proxy, &far, action()).await?;
        turns_of(&proxy, &far, by_hand()).await?;

        let pool_overhead = turns_of(&proxy, &far, release()).await?;
        let action = turns_of(&proxy, &far, action()).await?;
        let by_hand = turns_of(&proxy, &far, by_hand()).await?;
        assert_eq!(
            action - pool_overhead,
            4,
            "BEGIN with the deadline, lock + event, the body's UPDATE, COMMIT"
        );
        assert_eq!(
            action, by_hand,
            "the same as BEGIN, two statements, COMMIT by hand"
        );
        Ok(())
    })
    .await
}

#[sqlx::test(migrations = false)]
async fn database_timeouts_are_timeout_errors(pool: PgPool) -> TestResult {
    bounded(async {
        let mut conn = pool.acquire().await?;
        sqlx::query("SET statement_timeout = 50")
            .execute(&mut *conn)
            .await?;
        let cancelled = sqlx::query("SELECT pg_sleep(5)")
            .execute(&mut *conn)
            .await
            .expect_err("statement timeout");
        match Error::from_sqlx("sleeping", cancelled) {
            Error::Timeout {
                context,
                after: None,
                source,
            } => {
                assert_eq!(context, "sleeping");
                assert!(source.is_some(), "the database's error is kept");
            }
            other => panic!("expected a database timeout, got {other:?}"),
        }
        conn.close().await?;

        let mut conn = pool.acquire().await?.detach();
        let mut tx = conn.begin().await?;
        sqlx::query("SET LOCAL idle_in_transaction_session_timeout = 50")
            .execute(&mut *tx)
            .await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let ended = sqlx::query("SELECT 1")
            .execute(&mut *tx)
            .await
            .expect_err("session ended");
        let error = Error::from_sqlx("waiting", ended);
        assert!(
            matches!(error, Error::Timeout { after: None, .. }),
            "expected a database timeout, got {error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("idle_in_transaction_session_timeout")
        );
        Ok(())
    })
    .await
}

/// `freeze_before` and the commit: a deadline that passes once the `COMMIT`
/// is on its way says the call may have been applied.
#[sqlx::test(migrations = false)]
async fn timeout_during_commit_says_it_may_have_been_applied(
    opts: PgPoolOptions,
    connect: PgConnectOptions,
) -> TestResult {
    bounded(async {
        let (direct, store, user, proxy) = setup(opts, &connect).await?;
        let far = proxied_pool(&proxy, &connect).await?;
        let far_store = PgEventStore::<app::EventLog>::new(far.clone()).with_deadline(DEADLINE);
        proxy.freeze_before(b"COMMIT");
        let result = User::update(user.id, rename("unsure"))
            .run(&far_store)
            .await;
        assert_timeout(
            result,
            DEADLINE,
            "its COMMIT was sent, so it may have been applied",
        );

        // Here the COMMIT never arrived: the database ends the session and
        // nothing is stored.
        let renamed = User::update(user.id, rename("second")).run(&store).await?;
        assert_eq!(renamed.name, "second");
        assert_eq!(event_names(&store, user.id).await?, ["Ada", "second"]);
        drop(direct);
        Ok(())
    })
    .await
}
