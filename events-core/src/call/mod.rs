//! Calls: what a generated wrapper returns, what `.run(&store)` does, step by
//! step, and what a body sees.
//!
//! `#[events]` keeps each action body as a hidden function and generates a
//! wrapper under the action's name. There are three kinds of call, one builder
//! type [`Call`] for all of them:
//!
//! | call | made by | body runs | events |
//! | --- | --- | --- | --- |
//! | [`ActionCall`](crate::ActionCall) | the action's wrapper, `User::create(input)` | once, with an [`ActionCtx`](crate::ActionCtx) | one |
//! | [`BulkCall`](crate::BulkCall) | a `#[bulk(action)]` wrapper, `Item::create_many(inputs)` | the bulk body once, with a [`BulkCtx`](crate::BulkCtx) and every input | one per input, one statement |
//! | [`EachCall`](crate::EachCall) | [`each`](crate::each) over action calls | each call's body in turn | one per call, one statement |
//!
//! Every call is configured with the same builder methods, written once on
//! [`Call`]: [`actor`](Call::actor), [`metadata`](Call::metadata),
//! [`tenant`](Call::tenant), [`request`](Call::request) (not on `each(..)`,
//! whose calls carry their own) and [`deadline`](Call::deadline). Both
//! contexts dereference to one [`Scope`] (connection, timestamp, actor, tenant,
//! metadata, hooks), so those accessors exist once too.
//!
//! # Steps of a call
//!
//! Before step 1 the call checks what it can without the database (record ids,
//! event data, lock keys, an actor where the log requires one) and fails
//! without taking a connection. Then, in one transaction:
//!
//! 1. `BEGIN`;
//! 2. for a recorded action: its advisory lock and its event, in one statement
//!    (so the event's id orders before any event the body causes); a bulk call
//!    or `each(..)` takes every lock in ascending key order and inserts every
//!    event with the same statement, ids ascending in input order, one shared
//!    `occurred_at`. Under the `record` scope a create of a generated record id
//!    takes no lock (see [`LockScope::Record`](crate::LockScope::Record));
//! 3. the body (the bulk body once, or each call's body in call order), on the
//!    same connection;
//! 4. the `after_action` hooks the bodies registered;
//! 5. `COMMIT`, then the `after_commit` hooks.
//!
//! Any error before the commit rolls everything back: an event is stored if
//! and only if its action's state change committed. Ignored actions skip
//! step 2.
//!
//! Steps 1 to 5 run within the call's **deadline** ([`Call::deadline`], else
//! the store's, [`DEFAULT_DEADLINE`](crate::DEFAULT_DEADLINE) unless
//! configured): past it, `run` returns [`Error::Timeout`](crate::Error::Timeout)
//! and closes the connection, and the database, told the deadline in the
//! call's first statement (the append of step 2, or the `BEGIN` of a call that
//! does not append first), ends the transaction on its side too, which frees
//! its advisory locks even when the client is cut off (see
//! [`EventStore::begin_action`](crate::EventStore::begin_action)).
//!
//! A body can call another action with
//! [`run_in`](crate::ActionCall::run_in): it runs in the same transaction
//! under a savepoint and records its own event after the caller's; on replay
//! it is skipped (its own event replays it).
//!
//! # Bulk actions
//!
//! A method marked `#[bulk(action)]` in an `#[events]` impl block is the bulk
//! form of `action`: it takes a [`BulkCtx`](crate::BulkCtx) and a `Vec` of
//! `action`'s input, and writes the state of every input at once (a multi-row
//! `INSERT`, an `UPDATE .. FROM unnest(..)`). Its events are those `action`
//! itself writes (same name, kind and version).
//!
//! **Replay** applies those events one at a time through `action` (or its
//! `replay_override` route), like any other event: the bulk body must leave
//! the same state as running `action` over the inputs in order. Keep both on
//! the same helper functions, and test it the way this crate's tests do (live
//! state after a bulk call equals the state after replay).
//!
//! ```no_run
//! use events_core::{ActionCtx, BulkCtx, Error, EventStore, event_log, events};
//! use serde::{Deserialize, Serialize};
//!
//! #[event_log(advisory_lock_scope = record)]
//! pub struct AppLog;
//!
//! #[derive(Serialize, Deserialize)]
//! pub struct NewItem { value: i64 }
//!
//! pub struct Item;
//!
//! #[events(event_log = AppLog)]
//! impl Item {
//!     /// One item.
//!     #[create]
//!     async fn create(ctx: &mut ActionCtx<'_>, input: NewItem) -> Result<(), Error> {
//!         sqlx::query("INSERT INTO items (id, value) VALUES ($1, $2)")
//!             .bind(ctx.record_id())
//!             .bind(input.value)
//!             .execute(ctx.conn())
//!             .await?;
//!         Ok(())
//!     }
//!
//!     /// Many items, one statement; replayed one by one through `create`.
//!     #[bulk(create)]
//!     async fn create_many(ctx: &mut BulkCtx<'_>, inputs: Vec<NewItem>) -> Result<(), Error> {
//!         let values: Vec<i64> = inputs.iter().map(|i| i.value).collect();
//!         sqlx::query("INSERT INTO items (id, value) SELECT * FROM unnest($1::uuid[], $2::int8[])")
//!             .bind(ctx.record_ids())
//!             .bind(&values)
//!             .execute(ctx.conn())
//!             .await?;
//!         Ok(())
//!     }
//! }
//!
//! # async fn run<S: EventStore<Log = AppLog>>(store: &S) -> Result<(), Error> {
//! let inputs = (0..10_000).map(|value| NewItem { value });
//! Item::create_many(inputs).run(store).await?;
//! # Ok(()) }
//! ```
//!
//! # Modules
//!
//! `builder` holds [`Call`], its builder methods and the one constructor of a
//! [`NewEvent`](crate::store::NewEvent); `scope` the shared context and its hooks;
//! `prepare` the checks made before a connection is taken; `run` the
//! transaction skeleton and the deadline; `single`, `bulk` and `each` the three
//! kinds on top; `record` the changes a body records for the audit log.

// The user-facing items of `single`, `bulk` and `each` are re-exported at the
// crate root (their one public path); the building blocks here.
mod builder;
pub(crate) mod bulk;
pub(crate) mod each;
mod prepare;
mod record;
mod run;
mod scope;
pub(crate) mod single;

pub use builder::Call;
pub(crate) use builder::EventOptions;
pub use bulk::Bulk;
pub use each::Each;
pub use scope::Scope;
pub use single::Single;

use crate::{EventLog, Resource};

/// The kinds of call whose events take the call's actor, metadata and tenant:
/// [`Single`] and [`Bulk`] ([`Each`] takes them from each gathered call).
/// Sealed.
pub trait Configurable: sealed::Sealed {
    /// The event log the call's events go to.
    type Log: EventLog;
}

mod sealed {
    /// Keeps [`Configurable`](super::Configurable) to this crate's call kinds.
    pub trait Sealed {}
}

impl<R: Resource, I, Ret> sealed::Sealed for Single<R, I, Ret> {}
impl<R: Resource, I, Ret> Configurable for Single<R, I, Ret> {
    type Log = R::Log;
}
impl<R: Resource, I, Ret> sealed::Sealed for Bulk<R, I, Ret> {}
impl<R: Resource, I, Ret> Configurable for Bulk<R, I, Ret> {
    type Log = R::Log;
}
