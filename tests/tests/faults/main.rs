//! The fault-injection suite: what the event log guarantees when things go
//! wrong, each scenario bounded by timeouts so that a broken guarantee fails
//! instead of hanging.
//!
//! | module | faults |
//! | --- | --- |
//! | [`kill`] | backends terminated mid-body, during COMMIT, at random points |
//! | [`cancel`] | `run` futures dropped or timed out, panicking bodies |
//! | [`server`] | unreachable server, lock and statement timeouts, idle-in-transaction timeout |
//! | [`concurrency`] | sixteen writers and a follower, replay among writers |
//! | [`replay`] | atomic and chunked replays killed half-way, resumed |
//! | [`append_only`] | the owner rewriting or removing events and side tables |
//! | [`partition`] | a network partition between client and server, a frozen server: answers within the deadline, locks freed |
//! | [`actor`] | a log whose actor column does not allow nil: the actor required on every path |
//! | [`hostile`] | NUL bytes, 10 MB documents, SQL metacharacters and Unicode in every audit filter, paging bounds, tampered cursors, the prune boundary |
//!
//! [`fixture`] holds the suite's application (a log with per-record locks and a
//! `Job` resource whose body runs faults armed per label) and its helpers.
//! Each test gets a fresh database from `#[sqlx::test]` (`DATABASE_URL`);
//! backends are terminated with `pg_terminate_backend` on the test's own
//! connections only, and session settings (timeouts) are set per connection,
//! never on the server.

mod actor;
mod append_only;
mod cancel;
mod concurrency;
mod fixture;
mod hostile;
mod kill;
mod partition;
mod replay;
mod server;
