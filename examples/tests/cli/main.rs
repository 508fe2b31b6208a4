//! The `events` command line, run as a real binary (the example application's,
//! `src/bin/events.rs`) against a real PostgreSQL: each subcommand's output
//! and exit code, and bad input answered by one line on stderr with exit 1 or
//! 2, never a panic. Each test gets a fresh database from `#[sqlx::test]`
//! (`DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432`).
//!
//! | module | what it checks |
//! | --- | --- |
//! | [`setup`] | `migrate`, `status`, `grants`, and every kind of bad input |
//! | [`read`] | `tail` (and `-f`), `query` (filters, pages, counts, exports), `history` |
//! | [`replay`] | `verify`, `replay` (atomic and chunked), `resume` after Ctrl-C, progress lines |
//! | [`prune`] | `prune --dry-run`, `prune` |

mod prune;
mod read;
mod replay;
mod setup;
mod support;
