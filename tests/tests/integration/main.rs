//! The integration suite: the framework on a real PostgreSQL, one module per
//! concern. Each test gets a fresh database from `#[sqlx::test]`
//! (`DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432`).
//!
//! | module | what it checks |
//! | --- | --- |
//! | [`actions`] | recorded actions: one event per action, in the action's transaction, hooks, nested actions |
//! | [`bulk`] | bulk actions and `each(..)`: one event per input, one statement, replay equals live |
//! | [`lock_scopes`] | the advisory lock each scope takes, as `pg_locks` shows it |
//! | [`introspection`] | what `#[event_log]` and `#[events]` compiled, read back |
//! | [`replay`] | replay rebuilds the live state, routes old versions, chunks and resumes |
//! | [`replay_routes`] | routing to several targets, the replay context |
//! | [`replay_prop`] | property: replay of random action sequences equals the live state |
//! | [`follow`] | the commit-safe follower never skips a late commit |
//! | [`consume`] | checkpointed consumers: exactly once across failures and restarts, groups, status, reset |
//! | [`relay`] | the NATS JetStream relay: each event once in commit order, across kills and NATS outages |
//! | [`subscribe`] | subscriptions: every committed event once, in order, live, resumed, filtered |
//! | [`live_scenario`] | 16 writers, 3 subscribers and a group with a killed member at once: each event once, in order |
//! | [`trust`] | the trust guarantees: order by transaction id, one replay at a time, retention, roles |
//! | [`personal`] | personal data: no plaintext anywhere in the log, erasure, export, tampering, wrong keys, rotation |
//! | [`prune_batches`] | retention in batches: the rows one prune deletes, oldest first, each batch recorded; refusals |
//! | [`xid_wrap`] | transaction ids crossing a power of ten on a throwaway cluster |
//! | [`json_roundtrip`] | whatever the log accepts, every reader gives back |
//! | [`request_context`] | a request context never fails a write |
//! | [`time_ranges`] | times outside PostgreSQL's range are typed errors or clamped |
//! | [`audit`] | the audit log against the four reference libraries |
//!
//! The fault-injection suite (`tests/faults`) and the compile-time checks
//! (`tests/ui.rs`) are binaries of their own: the first runs timing-sensitive
//! scenarios that must not share threads with this one, the second compiles
//! code with trybuild.

mod actions;
mod audit;
mod bulk;
mod consume;
mod follow;
mod introspection;
mod json_roundtrip;
mod live_scenario;
mod lock_scopes;
mod personal;
mod personal_actions;
mod prune_batches;
mod relay;
mod replay;
mod replay_prop;
mod replay_routes;
mod request_context;
mod subscribe;
mod time_ranges;
mod trust;
mod wait;
mod xid_wrap;
