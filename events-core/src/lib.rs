//! Runtime of the events framework: an event log for Rust services on PostgreSQL,
//! after [AshEvents](https://hexdocs.pm/ash_events).
//!
//! Two attribute macros declare the configuration and generate the code:
//!
//! - [`event_log`] on a struct declares the central event log: record id and
//!   primary key types, actor columns, advisory locks, the clear-records hook and
//!   the replay overrides. It implements [`EventLog`].
//! - [`events`] on a resource's inherent `impl` block declares which actions are
//!   recorded and at which version. It implements [`Resource`] and generates a
//!   wrapper per action that returns an [`ActionCall`].
//!
//! ```ignore
//! use events_core::{event_log, events, ActionCtx, Error};
//!
//! #[event_log(persist_actor_primary_key(user_id, Admin))]
//! pub struct EventLog;
//!
//! #[events(event_log = EventLog, current_action_versions(create = 2))]
//! impl User {
//!     #[create]
//!     async fn create(ctx: &mut ActionCtx<'_>, input: CreateUser) -> Result<User, Error> {
//!         // write with ctx.conn(), ctx.record_id(), ctx.now(): same transaction as the event
//!     }
//! }
//!
//! let user = User::create(input).actor(&admin).run(&store).await?;
//! ```
//!
//! A method marked `#[bulk(action)]` is the bulk form of an action: one call over
//! many inputs, one event per input written by one statement; see
//! [bulk actions](call#bulk-actions).
//!
//! The audit side of the log (manual entries, recorded changes, the query model)
//! is [`audit`]. Personal data (fields encrypted per data subject, erasure,
//! export) is [`personal`].
//!
//! The PostgreSQL store lives in `events-postgres`. See [`call`] for what a call
//! does, step by step, and the crate README for a runnable quickstart.

mod actor;
pub mod audit;
pub mod call;
mod error;
mod event;
mod event_store;
pub mod info;
pub mod json;
mod key;
mod lock;
mod log;
pub mod personal;
pub mod replay;
mod resource;
mod routes;
pub mod store;

use std::pin::Pin;

pub use actor::{Actor, ActorRef, PersistsActor};
pub use call::bulk::{BulkCall, BulkCtx};
pub use call::each::{EachCall, each};
pub use call::single::{ActionCall, ActionCtx, ActionOutput};
pub use error::{
    APPEND_ONLY_SQLSTATE, AuditError, BoxError, Error, EventRef, PersonalError, ReplayError,
};
pub use event::{ActionKind, Event, EventId, PrimaryKeyType};
pub use event_store::{DEFAULT_DEADLINE, EventStore};
pub use key::{Key, KeyType, KeyValue};
pub use lock::{
    AdvisoryLockKeyGenerator, DefaultLockKeyGenerator, GlobalLockKeyGenerator, LockKey,
    LockKeyInput, LockScope, RecordLockKeyGenerator,
};
pub use log::{ActorColumn, ClearRecords, EventLog, ReplayFn, ReplayOverride, Route};
pub use resource::{ActionInfo, RecordIdOf, Resource};

#[cfg(feature = "macros")]
pub use events_macros::{event_log, events};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Items generated code refers to. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private;
