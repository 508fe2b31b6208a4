//! The store's SQL toolkit: everything that turns the event log's
//! configuration and a call's values into statements, and rows back into values.
//!
//! - [`names`]: every database object of an event log, named and quoted once.
//! - [`statements`]: the fixed texts of a store, built once when it is created.
//! - [`consumers`]: the checkpointed consumers' texts.
//! - [`columns`]: the column table that drives the append statements' texts and
//!   their binders.
//! - [`builder`]: [`Sql`], for statements whose shape depends on the call
//!   (audit filters, replay ranges).
//! - [`bind`]: keys and event ids bound as their column's type, checked once.
//! - [`decode`]: reading columns back, JSON at any depth.
//!
//! Text becomes a query in two places only, [`query`] (fixed texts) and
//! [`Sql::query`] (built ones), both from configuration names and fixed
//! fragments; values are always bound parameters.

pub(crate) mod bind;
mod builder;
pub(crate) mod columns;
mod consumers;
mod decode;
pub(crate) mod names;
mod statements;

use std::sync::Arc;

use sqlx::postgres::PgArguments;
use sqlx::{AssertSqlSafe, Postgres};

pub(crate) use builder::Sql;
pub(crate) use decode::{
    get, get_id, get_json, get_key, get_opt_json, get_opt_key, get_saved_position, get_txid,
    malformed,
};
pub(crate) use statements::{EVENT_COLUMNS, NOTIFY_ON, Statements, prune_cutoff_sql};

/// A query with its arguments bound eagerly, independent of any borrow.
pub(crate) type PgQuery = sqlx::query::Query<'static, Postgres, PgArguments>;

/// Serializes concurrent `migrate()` calls on one table (`$1`: the table name). The
/// two-`int4` key space keeps it apart from the single-key locks actions default to.
pub(crate) const LOCK_MIGRATION: &str =
    "SELECT pg_advisory_xact_lock(hashtext('events_postgres.migrate'), hashtext($1))";

/// Takes the replay lock of an event log at session level (`$1`: the table name):
/// the key `<table>_begin_replay()` takes at transaction level, so chunked and
/// atomic replays exclude each other. Returns false when another session holds it.
pub(crate) const LOCK_REPLAY: &str =
    "SELECT pg_try_advisory_lock(hashtext('events_postgres.replay'), hashtext($1))";
/// Releases [`LOCK_REPLAY`].
pub(crate) const UNLOCK_REPLAY: &str =
    "SELECT pg_advisory_unlock(hashtext('events_postgres.replay'), hashtext($1))";

/// A query over one of the store's fixed texts; the text is shared, not
/// copied. With [`Sql::query`], the one place a text becomes a query.
pub(crate) fn query(sql: &Arc<str>) -> PgQuery {
    // Built only from the event log's compile-time config, identifiers quoted.
    sqlx::query(AssertSqlSafe(Arc::clone(sql)))
}

/// The schema script of a store, run as one multi-statement simple query.
pub(crate) fn script(sql: &Arc<str>) -> sqlx::RawSql {
    // Built only from the event log's compile-time config, identifiers quoted.
    sqlx::raw_sql(AssertSqlSafe(Arc::clone(sql)))
}
