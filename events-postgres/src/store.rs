//! [`PgEventStore`]: the [`EventStore`] of an event log on a PostgreSQL pool, and
//! its migration.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use events_core::audit::Changes;
use events_core::store::{Appended, AppendedMany, NewEvent};
use events_core::{BoxFuture, DEFAULT_DEADLINE, Error, EventId, EventLog, EventStore, LockKey};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgConnection, PgPool, Postgres, Transaction};

use crate::personal::Keyring;
use crate::sql::{self, LOCK_MIGRATION, Statements};
use crate::{append, changes};

/// The PostgreSQL store of event log `L`: appends its events and reads them back.
///
/// Cheap to clone (a pool handle and a shared set of SQL texts). The SQL is built
/// once, in [`new`](Self::new), from `L`'s table name, primary key type, record id
/// type and actor columns; every statement text is fixed, so each connection
/// prepares it once.
///
/// **Deadline.** Every call run on the store (an action, a bulk call,
/// `each(..)`) must finish within [`DEFAULT_DEADLINE`] (30 s), or the one set
/// with [`with_deadline`](Self::with_deadline), or the call's own
/// (`.deadline(..)`). Both sides enforce it. The client stops waiting, returns
/// [`Error::Timeout`] and closes the connection rather than return it to the
/// pool. The database gets the deadline in the call's first statement, its
/// append (or, for a call that appends nothing first, in its `BEGIN`, one simple
/// query: `BEGIN; SELECT set_config('statement_timeout', .., true), ..`), so no
/// extra round trip or statement: `statement_timeout` and
/// `idle_in_transaction_session_timeout`, each lowered to the deadline, never
/// raised (a shorter timeout of the session, role or database stays). It
/// cancels a statement that runs longer (which aborts the transaction) or ends
/// the session of a transaction idle longer: either frees the call's
/// advisory locks even when the client is cut off by a partition that neither
/// side notices, at most one deadline after its last statement finished (two
/// if it was cut off mid-statement). The database's timeouts get a grace of
/// `min(deadline, 1 s)` on top, so that a client still listening always hears
/// its own deadline first (an [`Error::Timeout`] with `after` set) rather than
/// the database's. Both settings are transaction-local: connections return to
/// the pool with the server's defaults.
///
/// sqlx 0.9 sets no TCP keepalives on its sockets, and the deadline does not
/// need them. They still help the server drop the connection slot of a session
/// whose statement was cancelled (PostgreSQL reverts `SET LOCAL` settings on
/// abort, so that session idles, holding no lock, until TCP notices): ask for
/// server-side keepalives per connection with
/// `PgConnectOptions::options([("tcp_keepalives_idle", "60")])`.
///
/// ```no_run
/// # use events_core::Error;
/// # #[events_core::event_log] pub struct AppLog;
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use events_postgres::PgEventStore;
///
/// let pool = sqlx::PgPool::connect("postgres://postgres@127.0.0.1:5432/app").await?;
/// let store = PgEventStore::<AppLog>::new(pool);
/// store.migrate().await?;
/// // pass `&store` to generated actions: `User::create(input).run(&store).await?`
/// # Ok(()) }
/// ```
pub struct PgEventStore<L: EventLog> {
    pool: PgPool,
    sql: Arc<Statements>,
    deadline: Duration,
    /// The key provider and its unwrapped data keys; `None`: no personal data
    /// can be written, and readers return it sealed.
    keys: Option<Arc<Keyring>>,
    _log: PhantomData<fn() -> L>,
}

impl<L: EventLog> PgEventStore<L> {
    /// A store of `L`'s events on `pool`. Builds the SQL texts; runs nothing.
    ///
    /// ```no_run
    /// # use events_core::Error;
    /// # #[events_core::event_log] pub struct AppLog;
    /// # fn run(pool: sqlx::PgPool) {
    /// let store = events_postgres::PgEventStore::<AppLog>::new(pool);
    /// # }
    /// ```
    pub fn new(pool: PgPool) -> Self {
        PgEventStore {
            pool,
            sql: Arc::new(Statements::new::<L>(false)),
            deadline: DEFAULT_DEADLINE,
            keys: None,
            _log: PhantomData,
        }
    }

    /// The same store with every call bounded by `deadline` instead of
    /// [`DEFAULT_DEADLINE`] (30 s); a call's own `.deadline(..)` still wins. See
    /// the [type docs](Self) for what each side enforces. Deadlines under a
    /// millisecond count as one.
    ///
    /// Choose it above the slowest legitimate call, waiting for contended locks
    /// included: the deadline is also how long a cut-off client can keep other
    /// writers of its records waiting.
    ///
    /// ```no_run
    /// # use events_core::Error;
    /// # #[events_core::event_log] pub struct AppLog;
    /// # fn run(pool: sqlx::PgPool) {
    /// use std::time::Duration;
    /// use events_core::EventStore as _;
    ///
    /// let store = events_postgres::PgEventStore::<AppLog>::new(pool).with_deadline(Duration::from_secs(5));
    /// assert_eq!(store.deadline(), Duration::from_secs(5));
    /// # }
    /// ```
    #[must_use = "`with_deadline` returns the configured store"]
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Turns notifications on (or off): every transaction this store writes
    /// events or manual entries in announces itself at commit on the log's
    /// channel ([`AuditLog::topic`](crate::AuditLog::topic), payload the
    /// transaction id), which wakes [subscriptions](Self::subscribe) at once
    /// instead of at their next poll. Off by default.
    ///
    /// The setting rides in the append statement (`set_config('events.notify',
    /// 'on', true)`): no extra statement or round trip. Its cost is at commit:
    /// PostgreSQL queues notifications under one lock, so committing
    /// transactions that notify take turns for a moment (see the README for the
    /// measured cost to writers). Every store writing the log should agree;
    /// a transaction written by a store with notifications off is still seen by
    /// subscribers, at their next poll.
    ///
    /// ```no_run
    /// # #[events_core::event_log] pub struct AppLog;
    /// # fn run(pool: sqlx::PgPool) {
    /// let store = events_postgres::PgEventStore::<AppLog>::new(pool).with_notifications(true);
    /// assert!(store.notifications());
    /// # }
    /// ```
    #[must_use = "`with_notifications` returns the configured store"]
    pub fn with_notifications(mut self, on: bool) -> Self {
        if self.sql.notify != on {
            self.sql = Arc::new(Statements::new::<L>(on));
        }
        self
    }

    /// The same store with `provider`'s master keys, for personal data (see
    /// [`events_core::personal`]): fields declared encrypted are encrypted with
    /// their subject's data key, which `provider` wraps; readers decrypt them.
    /// Clones share the provider and the unwrapped keys. Without a provider,
    /// writing an encrypted field fails with
    /// [`PersonalError::NoKeyProvider`](events_core::PersonalError::NoKeyProvider)
    /// before any SQL, and readers return encrypted values sealed, as stored.
    ///
    /// ```no_run
    /// # #[events_core::event_log] pub struct AppLog;
    /// # async fn run(pool: sqlx::PgPool) -> Result<(), events_core::Error> {
    /// use events_core::personal::EnvKeyProvider;
    ///
    /// let store = events_postgres::PgEventStore::<AppLog>::new(pool)
    ///     .with_key_provider(EnvKeyProvider::from_env("EVENTS_MASTER_KEY")?);
    /// store.check_master_key().await?; // a wrong key fails here, at start-up
    /// # Ok(()) }
    /// ```
    #[must_use = "`with_key_provider` returns the configured store"]
    pub fn with_key_provider(mut self, provider: impl events_core::personal::KeyProvider) -> Self {
        self.keys = Some(Arc::new(Keyring::new::<L>(Arc::new(provider))));
        self
    }

    /// The key provider and its keys, if the store has one.
    pub(crate) fn keyring(&self) -> Option<&Keyring> {
        self.keys.as_deref()
    }

    /// Whether this store's transactions announce themselves at commit (see
    /// [`with_notifications`](Self::with_notifications)).
    pub fn notifications(&self) -> bool {
        self.sql.notify
    }

    /// Opens a transaction on a connection of the pool, with the store's
    /// deadline told to the database as for a call (see the [type docs](Self)),
    /// for appending events by hand with [`EventStore::append`]: tools, tests,
    /// imports. Actions do not use it; they open theirs with
    /// [`EventStore::begin_action`] on a connection they own.
    ///
    /// ```no_run
    /// # use events_core::Error;
    /// # #[events_core::event_log] pub struct AppLog;
    /// # async fn run(store: events_postgres::PgEventStore<AppLog>) -> Result<(), Error> {
    /// use events_core::store::NewEvent;
    /// use events_core::{ActionKind, EventStore as _, Key, LockKey};
    ///
    /// let (data, metadata) = (serde_json::json!({"imported": true}), serde_json::json!({}));
    /// let mut tx = store.begin().await?;
    /// store
    ///     .append(&mut tx, Some(LockKey::DEFAULT), &NewEvent {
    ///         resource: "User",
    ///         record_id: &Key::Uuid(uuid::Uuid::now_v7()),
    ///         action: "import",
    ///         action_type: ActionKind::Create,
    ///         actor: None,
    ///         data: &data,
    ///         metadata: &metadata,
    ///         version: 1,
    ///         tenant: None,
    ///         personal: None,
    ///     }, None)
    ///     .await?;
    /// tx.commit().await.map_err(|e| Error::from_sqlx("committing the import", e))?;
    /// # Ok(()) }
    /// ```
    pub async fn begin(&self) -> Result<Transaction<'static, Postgres>, Error> {
        self.pool
            .begin_with(append::begin_statement(self.deadline))
            .await
            .map_err(|e| Error::from_sqlx("beginning a transaction", e))
    }

    /// The pool the store runs on.
    ///
    /// ```no_run
    /// # use events_core::Error;
    /// # #[events_core::event_log] pub struct AppLog;
    /// # async fn run(store: events_postgres::PgEventStore<AppLog>) -> Result<(), sqlx::Error> {
    /// let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(store.pool()).await?;
    /// # Ok(()) }
    /// ```
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The schema script [`migrate`](Self::migrate) runs, the same text as
    /// [`migration_sql::<L>()`](crate::schema::migration_sql).
    ///
    /// ```no_run
    /// # use events_core::Error;
    /// # #[events_core::event_log] pub struct AppLog;
    /// # fn run(store: events_postgres::PgEventStore<AppLog>) -> std::io::Result<()> {
    /// std::fs::write("migrations/0001_events.sql", store.migration_sql())?;
    /// # Ok(()) }
    /// ```
    pub fn migration_sql(&self) -> &str {
        &self.sql.migration
    }

    /// The least-privilege grants for an `application` role and a `retention`
    /// role, the same text as
    /// [`schema::grants_sql::<L>()`](crate::schema::grants_sql), which says what
    /// each role can and cannot do. Run it as the tables' owner after
    /// [`migrate`](Self::migrate).
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(store: events_postgres::PgEventStore<L>) -> Result<(), sqlx::Error> {
    /// sqlx::raw_sql(sqlx::AssertSqlSafe(store.grants_sql("app", "ops"))).execute(store.pool()).await?;
    /// # Ok(()) }
    /// ```
    pub fn grants_sql(&self, application: &str, retention: &str) -> String {
        crate::schema::grants_sql::<L>(application, retention)
    }

    /// Creates the event table, its indexes and its append-only guard if they are
    /// missing, in one transaction. Safe to call on every start, also from several
    /// processes at once (an advisory lock serializes them).
    ///
    /// ```no_run
    /// # use events_core::Error;
    /// # #[events_core::event_log] pub struct AppLog;
    /// # async fn run(store: events_postgres::PgEventStore<AppLog>) -> Result<(), Error> {
    /// store.migrate().await?;
    /// store.migrate().await?; // no-op
    /// # Ok(()) }
    /// ```
    pub async fn migrate(&self) -> Result<(), Error> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| Error::from_sqlx("beginning the event table migration", e))?;
        sqlx::query(LOCK_MIGRATION)
            .bind(L::TABLE)
            .execute(&mut *tx)
            .await
            .map_err(|e| Error::from_sqlx("locking the event table migration", e))?;
        sql::script(&self.sql.migration)
            .execute(&mut *tx)
            .await
            .map_err(|e| Error::from_sqlx("running the event table migration", e))?;
        tx.commit()
            .await
            .map_err(|e| Error::from_sqlx("committing the event table migration", e))?;
        tracing::debug!(table = L::TABLE, "event table migrated");
        Ok(())
    }

    pub(crate) fn statements(&self) -> &Statements {
        &self.sql
    }
}

impl<L: EventLog> EventStore for PgEventStore<L> {
    type Log = L;

    fn deadline(&self) -> Duration {
        self.deadline
    }

    fn acquire(&self) -> BoxFuture<'_, Result<PoolConnection<Postgres>, Error>> {
        Box::pin(async move {
            self.pool
                .acquire()
                .await
                .map_err(|e| Error::from_sqlx("taking a connection for an action", e))
        })
    }

    fn begin_action<'c>(
        &'c self,
        conn: &'c mut PgConnection,
        deadline: Option<Duration>,
    ) -> BoxFuture<'c, Result<Transaction<'c, Postgres>, Error>> {
        Box::pin(async move {
            match deadline {
                Some(deadline) => conn.begin_with(append::begin_statement(deadline)).await,
                // The call's first statement, an append, carries the deadline.
                None => conn.begin().await,
            }
            .map_err(|e| Error::from_sqlx("beginning an action transaction", e))
        })
    }

    fn append<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        lock: Option<LockKey>,
        event: &'a NewEvent<'a>,
        deadline: Option<Duration>,
    ) -> BoxFuture<'a, Result<Appended, Error>> {
        Box::pin(append::append_one(self, conn, lock, event, deadline))
    }

    fn append_many<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        locks: &'a [LockKey],
        events: &'a [NewEvent<'a>],
        deadline: Option<Duration>,
    ) -> BoxFuture<'a, Result<AppendedMany, Error>> {
        Box::pin(append::append_many(self, conn, locks, events, deadline))
    }

    fn insert_changes<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        resource: &'static str,
        action: &'static str,
        event_ids: &'a [EventId],
        mut changes: Vec<Changes>,
        protections: Vec<Option<events_core::personal::Protection>>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.seal_recorded_changes(conn, &mut changes, &protections)
                .await?;
            changes::insert_changes::<L>(conn, &self.sql, (resource, action), event_ids, changes)
                .await
        })
    }
}

impl<L: EventLog> Clone for PgEventStore<L> {
    fn clone(&self) -> Self {
        PgEventStore {
            pool: self.pool.clone(),
            sql: Arc::clone(&self.sql),
            deadline: self.deadline,
            keys: self.keys.clone(),
            _log: PhantomData,
        }
    }
}

impl<L: EventLog> fmt::Debug for PgEventStore<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgEventStore")
            .field("log", &std::any::type_name::<L>())
            .field("table", &L::TABLE)
            .field("deadline", &self.deadline)
            .field("keys", &self.keys)
            .field("pool", &self.pool)
            .finish()
    }
}
