//! Fixtures shared by the integration tests: small applications declared with
//! `#[event_log]` and `#[events]`, each exercising a different configuration.
//!
//! - [`app`]: the design sketch: integer event ids, UUID record ids, two actor
//!   types, versioned and ignored actions, a replay override, after-action and
//!   after-commit hooks.
//! - [`alt`]: UUIDv7 event ids, integer record ids, a pair lock key default.
//! - [`custom_lock`]: a custom advisory lock key generator and string record ids.

pub mod alt;
pub mod app;
pub mod custom_lock;

/// A test database URL: `DATABASE_URL`, else the local server.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}
