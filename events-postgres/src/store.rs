//! [`PgEventStore`]: the [`EventStore`] of an event log on a PostgreSQL pool, and
//! its migration.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use events_core::audit::Changes;
use events_core::{
    ActorRef, Appended, AppendedMany, BoxFuture, DEFAULT_DEADLINE, Error, EventId, EventLog,
    EventStore, Key, KeyType, LockKey, NewEvent, PrimaryKeyType,
};
use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::changes;
use crate::sql::{self, LOCK_MIGRATION, PgQuery, Statements};

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
/// # use events_core::{ActorColumn, AdvisoryLockKeyGenerator, BoxFuture, DefaultLockKeyGenerator, Error, EventLog, LockKey, LockKeyInput, PrimaryKeyType, ReplayOverride};
/// # pub struct AppLog;
/// # impl EventLog for AppLog {
/// #     type RecordId = uuid::Uuid;
/// #     const TABLE: &'static str = "events";
/// #     const PRIMARY_KEY_TYPE: PrimaryKeyType = PrimaryKeyType::Integer;
/// #     const ADVISORY_LOCK_KEY_DEFAULT: LockKey = LockKey::DEFAULT;
/// #     const ADVISORY_LOCK_KEY_GENERATOR: &'static str = "DefaultLockKeyGenerator";
/// #     const CLEAR_RECORDS_FOR_REPLAY: Option<&'static str> = None;
/// #     const ACTOR_COLUMNS: &'static [ActorColumn] = &[];
/// #     const REPLAY_OVERRIDES: &'static [ReplayOverride] = &[];
/// #     fn advisory_lock_key(input: &LockKeyInput<'_>) -> Result<LockKey, Error> {
/// #         DefaultLockKeyGenerator::generate_key(input, Self::ADVISORY_LOCK_KEY_DEFAULT)
/// #     }
/// #     fn clear_records(_: &mut sqlx::PgConnection) -> Option<BoxFuture<'_, Result<(), Error>>> { None }
/// # }
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
    /// The insert of recorded changes (see [`changes`]).
    changes_sql: Arc<str>,
    deadline: Duration,
    _log: PhantomData<fn() -> L>,
}

impl<L: EventLog> PgEventStore<L> {
    /// A store of `L`'s events on `pool`. Builds the SQL texts; runs nothing.
    ///
    /// ```no_run
    /// # use events_core::{ActorColumn, AdvisoryLockKeyGenerator, BoxFuture, DefaultLockKeyGenerator, Error, EventLog, LockKey, LockKeyInput, PrimaryKeyType, ReplayOverride};
    /// # pub struct AppLog;
    /// # impl EventLog for AppLog {
    /// #     type RecordId = uuid::Uuid;
    /// #     const TABLE: &'static str = "events";
    /// #     const PRIMARY_KEY_TYPE: PrimaryKeyType = PrimaryKeyType::Integer;
    /// #     const ADVISORY_LOCK_KEY_DEFAULT: LockKey = LockKey::DEFAULT;
    /// #     const ADVISORY_LOCK_KEY_GENERATOR: &'static str = "DefaultLockKeyGenerator";
    /// #     const CLEAR_RECORDS_FOR_REPLAY: Option<&'static str> = None;
    /// #     const ACTOR_COLUMNS: &'static [ActorColumn] = &[];
    /// #     const REPLAY_OVERRIDES: &'static [ReplayOverride] = &[];
    /// #     fn advisory_lock_key(input: &LockKeyInput<'_>) -> Result<LockKey, Error> {
    /// #         DefaultLockKeyGenerator::generate_key(input, Self::ADVISORY_LOCK_KEY_DEFAULT)
    /// #     }
    /// #     fn clear_records(_: &mut sqlx::PgConnection) -> Option<BoxFuture<'_, Result<(), Error>>> { None }
    /// # }
    /// # fn run(pool: sqlx::PgPool) {
    /// let store = events_postgres::PgEventStore::<AppLog>::new(pool);
    /// # }
    /// ```
    pub fn new(pool: PgPool) -> Self {
        PgEventStore {
            pool,
            sql: Arc::new(Statements::new::<L>()),
            changes_sql: changes::insert_changes_sql::<L>(),
            deadline: DEFAULT_DEADLINE,
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
    /// # use events_core::{ActorColumn, AdvisoryLockKeyGenerator, BoxFuture, DefaultLockKeyGenerator, Error, EventLog, LockKey, LockKeyInput, PrimaryKeyType, ReplayOverride};
    /// # pub struct AppLog;
    /// # impl EventLog for AppLog {
    /// #     type RecordId = uuid::Uuid;
    /// #     const TABLE: &'static str = "events";
    /// #     const PRIMARY_KEY_TYPE: PrimaryKeyType = PrimaryKeyType::Integer;
    /// #     const ADVISORY_LOCK_KEY_DEFAULT: LockKey = LockKey::DEFAULT;
    /// #     const ADVISORY_LOCK_KEY_GENERATOR: &'static str = "DefaultLockKeyGenerator";
    /// #     const CLEAR_RECORDS_FOR_REPLAY: Option<&'static str> = None;
    /// #     const ACTOR_COLUMNS: &'static [ActorColumn] = &[];
    /// #     const REPLAY_OVERRIDES: &'static [ReplayOverride] = &[];
    /// #     fn advisory_lock_key(input: &LockKeyInput<'_>) -> Result<LockKey, Error> {
    /// #         DefaultLockKeyGenerator::generate_key(input, Self::ADVISORY_LOCK_KEY_DEFAULT)
    /// #     }
    /// #     fn clear_records(_: &mut sqlx::PgConnection) -> Option<BoxFuture<'_, Result<(), Error>>> { None }
    /// # }
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

    /// Opens a transaction on a connection of the pool, with the store's
    /// deadline told to the database as for a call (see the [type docs](Self)),
    /// for appending events by hand with [`EventStore::append`]: tools, tests,
    /// imports. Actions do not use it; they open theirs with
    /// [`EventStore::begin_action`] on a connection they own.
    ///
    /// ```no_run
    /// # use events_core::{ActorColumn, AdvisoryLockKeyGenerator, BoxFuture, DefaultLockKeyGenerator, Error, EventLog, LockKey, LockKeyInput, PrimaryKeyType, ReplayOverride};
    /// # pub struct AppLog;
    /// # impl EventLog for AppLog {
    /// #     type RecordId = uuid::Uuid;
    /// #     const TABLE: &'static str = "events";
    /// #     const PRIMARY_KEY_TYPE: PrimaryKeyType = PrimaryKeyType::Integer;
    /// #     const ADVISORY_LOCK_KEY_DEFAULT: LockKey = LockKey::DEFAULT;
    /// #     const ADVISORY_LOCK_KEY_GENERATOR: &'static str = "DefaultLockKeyGenerator";
    /// #     const CLEAR_RECORDS_FOR_REPLAY: Option<&'static str> = None;
    /// #     const ACTOR_COLUMNS: &'static [ActorColumn] = &[];
    /// #     const REPLAY_OVERRIDES: &'static [ReplayOverride] = &[];
    /// #     fn advisory_lock_key(input: &LockKeyInput<'_>) -> Result<LockKey, Error> {
    /// #         DefaultLockKeyGenerator::generate_key(input, Self::ADVISORY_LOCK_KEY_DEFAULT)
    /// #     }
    /// #     fn clear_records(_: &mut sqlx::PgConnection) -> Option<BoxFuture<'_, Result<(), Error>>> { None }
    /// # }
    /// # async fn run(store: events_postgres::PgEventStore<AppLog>) -> Result<(), Error> {
    /// use events_core::{ActionKind, EventStore as _, Key, NewEvent};
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
    ///     }, None)
    ///     .await?;
    /// tx.commit().await.map_err(|e| Error::from_sqlx("committing the import", e))?;
    /// # Ok(()) }
    /// ```
    pub async fn begin(&self) -> Result<Transaction<'static, Postgres>, Error> {
        self.pool
            .begin_with(begin_statement(self.deadline))
            .await
            .map_err(|e| Error::from_sqlx("beginning a transaction", e))
    }

    /// The pool the store runs on.
    ///
    /// ```no_run
    /// # use events_core::{ActorColumn, AdvisoryLockKeyGenerator, BoxFuture, DefaultLockKeyGenerator, Error, EventLog, LockKey, LockKeyInput, PrimaryKeyType, ReplayOverride};
    /// # pub struct AppLog;
    /// # impl EventLog for AppLog {
    /// #     type RecordId = uuid::Uuid;
    /// #     const TABLE: &'static str = "events";
    /// #     const PRIMARY_KEY_TYPE: PrimaryKeyType = PrimaryKeyType::Integer;
    /// #     const ADVISORY_LOCK_KEY_DEFAULT: LockKey = LockKey::DEFAULT;
    /// #     const ADVISORY_LOCK_KEY_GENERATOR: &'static str = "DefaultLockKeyGenerator";
    /// #     const CLEAR_RECORDS_FOR_REPLAY: Option<&'static str> = None;
    /// #     const ACTOR_COLUMNS: &'static [ActorColumn] = &[];
    /// #     const REPLAY_OVERRIDES: &'static [ReplayOverride] = &[];
    /// #     fn advisory_lock_key(input: &LockKeyInput<'_>) -> Result<LockKey, Error> {
    /// #         DefaultLockKeyGenerator::generate_key(input, Self::ADVISORY_LOCK_KEY_DEFAULT)
    /// #     }
    /// #     fn clear_records(_: &mut sqlx::PgConnection) -> Option<BoxFuture<'_, Result<(), Error>>> { None }
    /// # }
    /// # async fn run(store: events_postgres::PgEventStore<AppLog>) -> Result<(), sqlx::Error> {
    /// let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(store.pool()).await?;
    /// # Ok(()) }
    /// ```
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The schema script [`migrate`](Self::migrate) runs, the same text as
    /// [`migration_sql::<L>()`](crate::migration_sql).
    ///
    /// ```no_run
    /// # use events_core::{ActorColumn, AdvisoryLockKeyGenerator, BoxFuture, DefaultLockKeyGenerator, Error, EventLog, LockKey, LockKeyInput, PrimaryKeyType, ReplayOverride};
    /// # pub struct AppLog;
    /// # impl EventLog for AppLog {
    /// #     type RecordId = uuid::Uuid;
    /// #     const TABLE: &'static str = "events";
    /// #     const PRIMARY_KEY_TYPE: PrimaryKeyType = PrimaryKeyType::Integer;
    /// #     const ADVISORY_LOCK_KEY_DEFAULT: LockKey = LockKey::DEFAULT;
    /// #     const ADVISORY_LOCK_KEY_GENERATOR: &'static str = "DefaultLockKeyGenerator";
    /// #     const CLEAR_RECORDS_FOR_REPLAY: Option<&'static str> = None;
    /// #     const ACTOR_COLUMNS: &'static [ActorColumn] = &[];
    /// #     const REPLAY_OVERRIDES: &'static [ReplayOverride] = &[];
    /// #     fn advisory_lock_key(input: &LockKeyInput<'_>) -> Result<LockKey, Error> {
    /// #         DefaultLockKeyGenerator::generate_key(input, Self::ADVISORY_LOCK_KEY_DEFAULT)
    /// #     }
    /// #     fn clear_records(_: &mut sqlx::PgConnection) -> Option<BoxFuture<'_, Result<(), Error>>> { None }
    /// # }
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
    /// # use events_core::{ActorColumn, AdvisoryLockKeyGenerator, BoxFuture, DefaultLockKeyGenerator, Error, EventLog, LockKey, LockKeyInput, PrimaryKeyType, ReplayOverride};
    /// # pub struct AppLog;
    /// # impl EventLog for AppLog {
    /// #     type RecordId = uuid::Uuid;
    /// #     const TABLE: &'static str = "events";
    /// #     const PRIMARY_KEY_TYPE: PrimaryKeyType = PrimaryKeyType::Integer;
    /// #     const ADVISORY_LOCK_KEY_DEFAULT: LockKey = LockKey::DEFAULT;
    /// #     const ADVISORY_LOCK_KEY_GENERATOR: &'static str = "DefaultLockKeyGenerator";
    /// #     const CLEAR_RECORDS_FOR_REPLAY: Option<&'static str> = None;
    /// #     const ACTOR_COLUMNS: &'static [ActorColumn] = &[];
    /// #     const REPLAY_OVERRIDES: &'static [ReplayOverride] = &[];
    /// #     fn advisory_lock_key(input: &LockKeyInput<'_>) -> Result<LockKey, Error> {
    /// #         DefaultLockKeyGenerator::generate_key(input, Self::ADVISORY_LOCK_KEY_DEFAULT)
    /// #     }
    /// #     fn clear_records(_: &mut sqlx::PgConnection) -> Option<BoxFuture<'_, Result<(), Error>>> { None }
    /// # }
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
        sqlx::raw_sql(AssertSqlSafe(Arc::clone(&self.sql.migration)))
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

    /// The lock-and-insert of `event` with every argument bound. Fails on a key
    /// that does not fit its column, and on data or metadata the log could not
    /// read back ([`NewEvent::check_json`]), before anything runs.
    fn insert_query(
        &self,
        lock: Option<LockKey>,
        event: &NewEvent<'_>,
        deadline: Option<Duration>,
    ) -> Result<PgQuery, Error> {
        event.check_json()?;
        let text = match lock {
            Some(LockKey::Single(_)) => &self.sql.insert_single,
            Some(LockKey::Pair(..)) => &self.sql.insert_pair,
            None => &self.sql.insert_unlocked,
        };
        let mut q = sql::query(text);
        if L::PRIMARY_KEY_TYPE == PrimaryKeyType::UuidV7 {
            q = q.bind(Uuid::now_v7());
        }
        q = q.bind(event.resource);
        q = sql::bind_key(q, "record_id", L::RECORD_ID_TYPE, event.record_id)?;
        q = q
            .bind(event.action)
            .bind(event.action_type.as_str())
            .bind(event.data)
            .bind(event.metadata)
            .bind(version(event.version)?)
            .bind(event.tenant.map(Key::to_string));
        q = bind_actor::<L>(q, event.actor)?;
        let q = match lock {
            Some(LockKey::Single(key)) => q.bind(key),
            Some(LockKey::Pair(a, b)) => q.bind(a).bind(b),
            None => q,
        };
        Ok(q.bind(deadline.map(server_timeout_ms)))
    }
}

impl<L: EventLog> PgEventStore<L> {
    /// The lock-and-insert of a bulk call's events with every argument bound.
    /// Checks every event's data and metadata first ([`NewEvent::check_json`]).
    fn insert_many_query(
        &self,
        locks: &[LockKey],
        events: &[NewEvent<'_>],
        deadline: Option<Duration>,
    ) -> Result<PgQuery, Error> {
        let Some(first) = events.first() else {
            return Err(Error::InvalidValue {
                column: "data".to_owned(),
                message: "a bulk append needs at least one event".to_owned(),
            });
        };
        for event in events {
            event.check_json()?;
        }
        // Events alike but for record id and data (a bulk call) bind those columns
        // once; a mix (`each(..)` over calls with their own actors or metadata)
        // binds every column as an array.
        let uniform = events.iter().all(|e| {
            e.resource == first.resource
                && e.action == first.action
                && e.action_type == first.action_type
                && e.version == first.version
                && e.tenant == first.tenant
                && e.actor == first.actor
                && (std::ptr::eq(e.metadata, first.metadata) || e.metadata == first.metadata)
        });
        let mut q = sql::query(if uniform {
            &self.sql.insert_many
        } else {
            &self.sql.insert_many_rows
        });
        if L::PRIMARY_KEY_TYPE == PrimaryKeyType::UuidV7 {
            // Ascending, so that ids follow input order like sequence values do.
            let mut ids: Vec<Uuid> = events.iter().map(|_| Uuid::now_v7()).collect();
            ids.sort_unstable();
            q = q.bind(ids);
        }
        let each = |f: fn(&NewEvent<'_>) -> &'static str| events.iter().map(f).collect::<Vec<_>>();
        q = if uniform {
            q.bind(first.resource)
        } else {
            q.bind(each(|e| e.resource))
        };
        q = bind_keys(
            q,
            "record_id",
            L::RECORD_ID_TYPE,
            events.iter().map(|e| Some(e.record_id)),
        )?;
        q = if uniform {
            q.bind(first.action).bind(first.action_type.as_str())
        } else {
            q.bind(each(|e| e.action))
                .bind(each(|e| e.action_type.as_str()))
        };
        q = q.bind(
            events
                .iter()
                .map(|e| sqlx::types::Json(e.data))
                .collect::<Vec<_>>(),
        );
        q = if uniform {
            q.bind(first.metadata)
                .bind(version(first.version)?)
                .bind(first.tenant.map(Key::to_string))
        } else {
            q.bind(
                events
                    .iter()
                    .map(|e| sqlx::types::Json(e.metadata))
                    .collect::<Vec<_>>(),
            )
            .bind(
                events
                    .iter()
                    .map(|e| version(e.version))
                    .collect::<Result<Vec<_>, _>>()?,
            )
            .bind(
                events
                    .iter()
                    .map(|e| e.tenant.map(Key::to_string))
                    .collect::<Vec<_>>(),
            )
        };
        if uniform {
            q = bind_actor::<L>(q, first.actor)?;
        } else {
            for event in events {
                known_actor::<L>(event.actor)?;
            }
            for column in L::ACTOR_COLUMNS {
                let keys = events.iter().map(|e| {
                    e.actor
                        .filter(|actor| actor.column == column.name)
                        .map(|actor| &actor.key)
                });
                q = bind_keys(q, column.name, column.attribute_type, keys)?;
            }
        }
        let (mut singles, mut pair_a, mut pair_b) = (Vec::new(), Vec::new(), Vec::new());
        for lock in locks {
            match *lock {
                LockKey::Single(k) => singles.push(k),
                LockKey::Pair(a, b) => {
                    pair_a.push(a);
                    pair_b.push(b);
                }
            }
        }
        Ok(q.bind(singles)
            .bind(pair_a)
            .bind(pair_b)
            .bind(deadline.map(server_timeout_ms)))
    }
}

/// Binds one array of keys (`NULL` for `None`) as the SQL type of an `expected`
/// column; a key of another shape is an error naming `column`.
fn bind_keys<'k>(
    q: PgQuery,
    column: &str,
    expected: KeyType,
    keys: impl Iterator<Item = Option<&'k Key>>,
) -> Result<PgQuery, Error> {
    let mismatch = |key: &Key| sql::key_mismatch(column, expected, key);
    Ok(match expected {
        KeyType::Uuid => q.bind(
            keys.map(|k| match k {
                None => Ok(None),
                Some(Key::Uuid(u)) => Ok(Some(*u)),
                Some(other) => Err(mismatch(other)),
            })
            .collect::<Result<Vec<_>, _>>()?,
        ),
        KeyType::Integer => q.bind(
            keys.map(|k| match k {
                None => Ok(None),
                Some(Key::Integer(i)) => Ok(Some(*i)),
                Some(other) => Err(mismatch(other)),
            })
            .collect::<Result<Vec<_>, _>>()?,
        ),
        KeyType::String => q.bind(
            keys.map(|k| match k {
                None => Ok(None),
                Some(Key::String(s)) if s.contains('\0') => Err(sql::nul_key(column)),
                Some(Key::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(mismatch(other)),
            })
            .collect::<Result<Vec<_>, _>>()?,
        ),
    })
}

/// What the database's timeouts get on top of a call's deadline, at most: the
/// client's own timer must fire first, even on a loaded machine whose runtime
/// polls it late, or the caller would see the database's cancellation (a
/// [`Error::Timeout`] without `after`) instead.
const SERVER_GRACE: Duration = Duration::from_secs(1);

/// The database's timeouts for a call with `deadline`: the deadline plus
/// `min(deadline, SERVER_GRACE)`, in milliseconds rounded up, at least 1 (0
/// would turn the timeouts off), at most PostgreSQL's maximum.
fn server_timeout_ms(deadline: Duration) -> i64 {
    let ms = deadline
        .saturating_add(deadline.min(SERVER_GRACE))
        .as_nanos()
        .div_ceil(1_000_000)
        .clamp(1, i32::MAX as u128);
    i64::try_from(ms).unwrap_or(i64::from(i32::MAX))
}

/// The `BEGIN` of a call with `deadline` whose first statement is not an
/// append (an ignored action): one simple query, so one round trip (the
/// protocol answers a multi-statement query with one `ReadyForQuery`), setting
/// `statement_timeout` and `idle_in_transaction_session_timeout` for the
/// transaction, each lowered to the deadline, never raised. A call that starts
/// with an append sends a plain `BEGIN` and sets them in the append statement
/// (measured: the multi-statement `BEGIN` costs about 0.1 ms an action here,
/// the same settings inside the append about 0.01 ms).
fn begin_statement(deadline: Duration) -> AssertSqlSafe<String> {
    let ms = server_timeout_ms(deadline);
    AssertSqlSafe(format!(
        "BEGIN; SELECT pg_catalog.set_config(t.name, CASE WHEN x.ms = 0 OR x.ms > {ms} \
         THEN '{ms}' ELSE pg_catalog.current_setting(t.name) END, true) \
         FROM (VALUES ('statement_timeout'), ('idle_in_transaction_session_timeout')) AS t(name), \
         LATERAL (SELECT extract(epoch FROM pg_catalog.current_setting(t.name)::interval) * 1000 AS ms) AS x"
    ))
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
                Some(deadline) => conn.begin_with(begin_statement(deadline)).await,
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
        Box::pin(append_one(self, conn, lock, event, deadline))
    }

    fn append_many<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        locks: &'a [LockKey],
        events: &'a [NewEvent<'a>],
        deadline: Option<Duration>,
    ) -> BoxFuture<'a, Result<AppendedMany, Error>> {
        Box::pin(append_many(self, conn, locks, events, deadline))
    }

    fn insert_changes<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        resource: &'static str,
        action: &'static str,
        event_ids: &'a [EventId],
        changes: Vec<Changes>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(changes::insert_changes::<L>(
            conn,
            &self.changes_sql,
            (resource, action),
            event_ids,
            changes,
        ))
    }
}

/// What [`EventStore::append`] does for a PostgreSQL store: one statement, one
/// round trip, carrying the call's deadline when given.
async fn append_one<L: EventLog>(
    store: &PgEventStore<L>,
    conn: &mut PgConnection,
    lock: Option<LockKey>,
    event: &NewEvent<'_>,
    deadline: Option<Duration>,
) -> Result<Appended, Error> {
    // One round trip: the lock and the insert are one statement.
    let row = store
        .insert_query(lock, event, deadline)?
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| {
            let (resource, action) = (event.resource, event.action);
            let context = match lock {
                Some(lock) => format!(
                    "taking advisory lock {lock} and appending an event of {resource}.{action}"
                ),
                None => format!("appending an event of {resource}.{action} (no lock)"),
            };
            Error::from_sqlx(context, e)
        })?
        // No row: the insert's guard found an unfinished chunked replay.
        .ok_or(Error::ChunkedReplayUnfinished { table: L::TABLE })?;
    let id = match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => EventId::Integer(sql::get(&row, 0, "id")?),
        PrimaryKeyType::UuidV7 => EventId::Uuid(sql::get(&row, 0, "id")?),
    };
    let occurred_at = sql::get(&row, 1, "occurred_at")?;
    tracing::debug!(
        event_id = %id,
        resource = event.resource,
        action = event.action,
        lock = ?lock,
        "event appended"
    );
    Ok(Appended { id, occurred_at })
}

/// What [`EventStore::append_many`] does for a PostgreSQL store: one statement,
/// whatever the number of events.
async fn append_many<L: EventLog>(
    store: &PgEventStore<L>,
    conn: &mut PgConnection,
    locks: &[LockKey],
    events: &[NewEvent<'_>],
    deadline: Option<Duration>,
) -> Result<AppendedMany, Error> {
    let Some(first) = events.first() else {
        return Err(Error::InvalidValue {
            column: "data".to_owned(),
            message: "a bulk append needs at least one event".to_owned(),
        });
    };
    let context = || {
        format!(
            "taking {} advisory locks and appending {} events, the first of {}.{}",
            locks.len(),
            events.len(),
            first.resource,
            first.action
        )
    };
    let rows = store
        .insert_many_query(locks, events, deadline)?
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| Error::from_sqlx(context(), e))?;
    let mut ids = rows
        .iter()
        .map(|row| match L::PRIMARY_KEY_TYPE {
            PrimaryKeyType::Integer => sql::get(row, 0, "id").map(EventId::Integer),
            PrimaryKeyType::UuidV7 => sql::get(row, 0, "id").map(EventId::Uuid),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if rows.is_empty() {
        // The insert's guard found an unfinished chunked replay.
        return Err(Error::ChunkedReplayUnfinished { table: L::TABLE });
    }
    if ids.len() != events.len() {
        return Err(Error::MalformedRow {
            column: "id".to_owned(),
            message: format!(
                "{}: expected {} new events, the insert returned {}",
                context(),
                events.len(),
                ids.len()
            ),
        });
    }
    // Ids are assigned in insertion order, which is input order (`ORDER BY ord`).
    ids.sort_unstable();
    // One timestamp for the statement, the same on every row.
    let occurred_at = sql::get(&rows[0], 1, "occurred_at")?;
    Ok(AppendedMany { ids, occurred_at })
}

/// Binds every actor column of `L`, in order: `actor`'s key in its column, `NULL`
/// in the others. An actor column `L` does not have is an error.
fn bind_actor<L: EventLog>(mut q: PgQuery, actor: Option<&ActorRef>) -> Result<PgQuery, Error> {
    known_actor::<L>(actor)?;
    for column in L::ACTOR_COLUMNS {
        let key = actor
            .filter(|actor| actor.column == column.name)
            .map(|actor| &actor.key);
        q = sql::bind_opt_key(q, column.name, column.attribute_type, key)?;
    }
    Ok(q)
}

/// Refuses an actor recorded in a column `L` does not have.
fn known_actor<L: EventLog>(actor: Option<&ActorRef>) -> Result<(), Error> {
    match actor {
        Some(actor) if !L::ACTOR_COLUMNS.iter().any(|c| c.name == actor.column) => {
            Err(unknown_actor_column::<L>(actor.column))
        }
        _ => Ok(()),
    }
}

/// The `integer` column's value of an action version.
fn version(version: u32) -> Result<i32, Error> {
    match i32::try_from(version) {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(Error::InvalidValue {
            column: "version".to_owned(),
            message: format!("action version {version} is outside 1..={}", i32::MAX),
        }),
    }
}

fn unknown_actor_column<L: EventLog>(column: &str) -> Error {
    let known: Vec<&str> = L::ACTOR_COLUMNS.iter().map(|c| c.name).collect();
    Error::InvalidValue {
        column: column.to_owned(),
        message: format!(
            "not an actor column of event table `{}`; its actor columns: {}",
            L::TABLE,
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ),
    }
}

impl<L: EventLog> Clone for PgEventStore<L> {
    fn clone(&self) -> Self {
        PgEventStore {
            pool: self.pool.clone(),
            sql: Arc::clone(&self.sql),
            changes_sql: Arc::clone(&self.changes_sql),
            deadline: self.deadline,
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
            .field("pool", &self.pool)
            .finish()
    }
}
