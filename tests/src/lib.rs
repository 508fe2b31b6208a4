//! Fixtures shared by the integration tests: small applications declared with
//! `#[event_log]` and `#[events]`, each exercising a different configuration.
//!
//! - [`app`]: the design sketch: integer event ids, UUID record ids, two actor
//!   types, versioned and ignored actions, a replay override, after-action and
//!   after-commit hooks.
//! - [`alt`]: UUIDv7 event ids, integer record ids, a pair lock key default.
//! - [`custom_lock`]: a custom advisory lock key generator and string record ids.
//! - [`legacy`]: an older build of [`app`], writing version-1 events to the same table.
//! - [`doc`]: actions whose input is any JSON, with commit times: JSON round trips.
//! - [`strict_actor`]: a single actor column with `allow_nil = false`.

pub mod alt;
pub mod app;
pub mod custom_lock;
pub mod doc;
pub mod legacy;
pub mod strict_actor;

/// A test database URL: `DATABASE_URL`, else the local server.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `(classid, objid, objsubid)` of the advisory locks this connection's backend holds,
/// as `pg_locks` shows them.
pub async fn held_advisory_locks(
    conn: &mut sqlx::PgConnection,
) -> Result<Vec<(i64, i64, i16)>, events_core::Error> {
    let rows = sqlx::query_as(
        "SELECT classid::bigint, objid::bigint, objsubid::int2 FROM pg_locks \
         WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted ORDER BY 1, 2, 3",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// How a `LockKey` appears in `pg_locks`: `(classid, objid, objsubid)`.
pub fn pg_locks_row(key: events_core::LockKey) -> (i64, i64, i16) {
    match key {
        events_core::LockKey::Single(k) => ((k >> 32) & 0xffff_ffff, k & 0xffff_ffff, 1),
        events_core::LockKey::Pair(a, b) => (i64::from(a as u32), i64::from(b as u32), 2),
    }
}

/// The README's Rust example, compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// Every row of the application tables [`app`] rebuilds on replay, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// `users`, by id.
    pub users: Vec<app::User>,
    /// `posts`, by id.
    pub posts: Vec<app::Post>,
}

/// Reads a [`Snapshot`] of the application state.
pub async fn snapshot(pool: &sqlx::PgPool) -> Result<Snapshot, sqlx::Error> {
    Ok(Snapshot {
        users: sqlx::query_as("SELECT id, name, email, created_at FROM users ORDER BY id")
            .fetch_all(pool)
            .await?,
        posts: sqlx::query_as("SELECT id, author_id, title FROM posts ORDER BY id")
            .fetch_all(pool)
            .await?,
    })
}
