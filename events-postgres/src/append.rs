//! Appending events: the one statement each call's events are written by
//! (advisory locks, the deadline for the database, the insert), bound from the
//! column table ([`crate::sql::columns`]), and its result read back.

use std::time::Duration;

use events_core::store::{Appended, AppendedMany, NewEvent};
use events_core::{Error, EventLog, LockKey};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection};

use crate::PgEventStore;
use crate::personal::{WriteKeys, no_provider};
use crate::sql::columns::{bind_event, bind_events};
use crate::sql::{self, PgQuery, Statements};

/// What [`EventStore::append`](events_core::EventStore::append) does for a
/// PostgreSQL store: one statement, one round trip, carrying the call's
/// deadline when given.
pub(crate) async fn append_one<L: EventLog>(
    store: &PgEventStore<L>,
    conn: &mut PgConnection,
    lock: Option<LockKey>,
    event: &NewEvent<'_>,
    deadline: Option<Duration>,
) -> Result<Appended, Error> {
    if event.personal.is_some() {
        let events = std::slice::from_ref(event);
        let appended = append_sealed(store, conn, Locks::One(lock), events, deadline).await?;
        return Ok(Appended {
            id: appended.ids[0],
            occurred_at: appended.occurred_at,
        });
    }
    // One round trip: the lock and the insert are one statement.
    let row = insert_query::<L>(store.statements(), lock, event, deadline, None)?
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
    let id = sql::get_id::<L>(&row, (0, "id"))?;
    let occurred_at = sql::get(&row, (1, "occurred_at"))?;
    tracing::debug!(
        event_id = %id,
        resource = event.resource,
        action = event.action,
        lock = ?lock,
        "event appended"
    );
    Ok(Appended { id, occurred_at })
}

/// What [`EventStore::append_many`](events_core::EventStore::append_many) does
/// for a PostgreSQL store: one statement, whatever the number of events.
pub(crate) async fn append_many<L: EventLog>(
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
    if events.iter().any(|e| e.personal.is_some()) {
        return append_sealed(store, conn, Locks::Many(locks), events, deadline).await;
    }
    let context = || {
        format!(
            "taking {} advisory locks and appending {} events, the first of {}.{}",
            locks.len(),
            events.len(),
            first.resource,
            first.action
        )
    };
    let rows = insert_many_query::<L>(store.statements(), locks, events, deadline, None)?
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| Error::from_sqlx(context(), e))?;
    if rows.is_empty() {
        // The insert's guard found an unfinished chunked replay.
        return Err(Error::ChunkedReplayUnfinished { table: L::TABLE });
    }
    appended_rows::<L>(&rows, events.len(), context)
}

/// The ids and the shared `occurred_at` of `expected` events from the rows of
/// an insert that inserted them (`context` names it in an error).
fn appended_rows<L: EventLog>(
    rows: &[PgRow],
    expected: usize,
    context: impl FnOnce() -> String,
) -> Result<AppendedMany, Error> {
    let mut ids = rows
        .iter()
        .map(|row| sql::get_id::<L>(row, (0, "id")))
        .collect::<Result<Vec<_>, _>>()?;
    if ids.len() != expected {
        return Err(Error::MalformedRow {
            column: "id".to_owned(),
            message: format!(
                "{}: expected {expected} new events, the insert returned {}",
                context(),
                ids.len()
            ),
        });
    }
    // Ids are assigned in insertion order, which is input order (`ORDER BY ord`).
    ids.sort_unstable();
    // One timestamp for the statement, the same on every row.
    let occurred_at = sql::get(&rows[0], (1, "occurred_at"))?;
    Ok(AppendedMany { ids, occurred_at })
}

/// The locks of an append: one call's, or a bulk call's.
#[derive(Clone, Copy)]
enum Locks<'a> {
    One(Option<LockKey>),
    Many(&'a [LockKey]),
}

/// The append of events of which some carry encrypted personal data
/// ([`NewEvent::personal`]): each such event's fields are encrypted with its
/// subject's key ([`PgEventStore::seal_events`]) and the keys are stored (a
/// new subject's) and held by the insert's own statement (the keyed forms of
/// [`Statements::keyed`]): one statement, as for any append. When a key is not
/// the stored one (another process created the subject's first key, or erased
/// it, meanwhile), the statement inserts nothing; the keys are reloaded and
/// the events encrypted again, once.
async fn append_sealed<L: EventLog>(
    store: &PgEventStore<L>,
    conn: &mut PgConnection,
    locks: Locks<'_>,
    events: &[NewEvent<'_>],
    deadline: Option<Duration>,
) -> Result<AppendedMany, Error> {
    let first = &events[0];
    let what = || {
        format!(
            "appending {} event(s) of {}.{} with encrypted personal data",
            events.len(),
            first.resource,
            first.action
        )
    };
    let keyring = store.keyring().ok_or_else(|| no_provider(what()))?;
    let statements = store.statements();
    let mut attempt = 0;
    let rows = loop {
        attempt += 1;
        let (sealed, keys) = store.seal_events(keyring, events).await?;
        let stored: Vec<NewEvent<'_>> = events
            .iter()
            .zip(&sealed)
            .map(|(e, data)| NewEvent {
                data: data.as_ref().unwrap_or(e.data),
                personal: None,
                ..e.clone()
            })
            .collect();
        let q = match locks {
            Locks::One(lock) => {
                insert_query::<L>(statements, lock, &stored[0], deadline, Some(&keys))?
            }
            Locks::Many(locks) => {
                insert_many_query::<L>(statements, locks, &stored, deadline, Some(&keys))?
            }
        };
        let rows = q
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| Error::from_sqlx(what(), e))?;
        let held = match rows.first() {
            Some(row) => sql::get::<bool>(row, (2, "held"))?,
            None => false,
        };
        if held {
            keyring.confirm(&keys);
            break rows;
        }
        if attempt > 1 {
            return Err(Error::MalformedRow {
                column: "id".to_owned(),
                message: format!(
                    "{} inserted nothing: a data subject's key changed twice while it was \
                     written (created or erased by another process); retry",
                    what()
                ),
            });
        }
        keyring.reload(conn, statements, &keys.subjects()).await?;
    };
    // Held, and one row without an id: the insert's guard found an unfinished
    // chunked replay.
    let inserted = rows
        .first()
        .and_then(|row| sqlx::Row::try_get_raw(row, 0).ok())
        .is_some_and(|id| !sqlx::ValueRef::is_null(&id));
    if !inserted {
        return Err(Error::ChunkedReplayUnfinished { table: L::TABLE });
    }
    let appended = appended_rows::<L>(&rows, events.len(), what)?;
    tracing::debug!(
        events = appended.ids.len(),
        "events with personal data appended"
    );
    Ok(appended)
}

/// The lock-and-insert of `event` with every argument bound; with `keys`, its
/// keyed form ([`Statements::keyed`]). Fails on a key that does not fit its
/// column, and on data or metadata the log could not read back
/// ([`NewEvent::check_json`]), before anything runs.
fn insert_query<L: EventLog>(
    statements: &Statements,
    lock: Option<LockKey>,
    event: &NewEvent<'_>,
    deadline: Option<Duration>,
    keys: Option<&WriteKeys>,
) -> Result<PgQuery, Error> {
    event.check_json()?;
    let keyed = &statements.keyed;
    let text = match (lock, keys.is_some()) {
        (Some(LockKey::Single(_)), false) => &statements.insert_single,
        (Some(LockKey::Pair(..)), false) => &statements.insert_pair,
        (None, false) => &statements.insert_unlocked,
        (Some(LockKey::Single(_)), true) => &keyed.single,
        (Some(LockKey::Pair(..)), true) => &keyed.pair,
        (None, true) => &keyed.unlocked,
    };
    let q = bind_event::<L>(sql::query(text), &statements.columns, event)?;
    let q = match lock {
        Some(LockKey::Single(key)) => q.bind(key),
        Some(LockKey::Pair(a, b)) => q.bind(a).bind(b),
        None => q,
    };
    let q = q.bind(deadline.map(server_timeout_ms));
    Ok(match keys {
        Some(keys) => keys.bind(q),
        None => q,
    })
}

/// The lock-and-insert of a bulk call's events with every argument bound;
/// with `keys`, its keyed form ([`Statements::keyed`]). Checks every event's
/// data and metadata first ([`NewEvent::check_json`]).
fn insert_many_query<L: EventLog>(
    statements: &Statements,
    locks: &[LockKey],
    events: &[NewEvent<'_>],
    deadline: Option<Duration>,
    keys: Option<&WriteKeys>,
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
    let text = match (uniform, keys.is_some()) {
        (true, false) => &statements.insert_many,
        (false, false) => &statements.insert_many_rows,
        (true, true) => &statements.keyed.many,
        (false, true) => &statements.keyed.many_rows,
    };
    let q = bind_events::<L>(sql::query(text), &statements.columns, events, uniform)?;
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
    let q = q
        .bind(singles)
        .bind(pair_a)
        .bind(pair_b)
        .bind(deadline.map(server_timeout_ms));
    Ok(match keys {
        Some(keys) => keys.bind(q),
        None => q,
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
pub(crate) fn begin_statement(deadline: Duration) -> AssertSqlSafe<String> {
    let ms = server_timeout_ms(deadline);
    AssertSqlSafe(format!(
        "BEGIN; SELECT pg_catalog.set_config(t.name, CASE WHEN x.ms = 0 OR x.ms > {ms} \
         THEN '{ms}' ELSE pg_catalog.current_setting(t.name) END, true) \
         FROM (VALUES ('statement_timeout'), ('idle_in_transaction_session_timeout')) AS t(name), \
         LATERAL (SELECT extract(epoch FROM pg_catalog.current_setting(t.name)::interval) * 1000 AS ms) AS x"
    ))
}
