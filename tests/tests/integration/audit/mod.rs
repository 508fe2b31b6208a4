//! The audit log on a real PostgreSQL: one test (or a few) per function and
//! option of the four reference libraries, named after it, asserting the entries
//! returned, their order, totals and pages; hostile filter values; the schema
//! upgrade; replay ignoring manual entries.
//!
//! | module | reference |
//! | --- | --- |
//! | [`hawk`] | HawkEx `Audit`: `track/3`, `recent/1`, `search/2`, `for_account/1` |
//! | [`activity`] | PhoenixKit `Activity`: `log`, `list` and its options, `count`, facets, `prune`, ... |
//! | [`audit_log`] | PhoenixKit `AuditLog`: `create_log_entry`, `list_logs`, `count_logs`, ... |
//! | [`contember`] | Contember event log: fields, filters, orders, offset/limit |
//! | [`model`] | keyset paging, count modes, changes, hostile input, schema, plans |
//! | [`replay`] | replay never applies manual entries nor writes changes |
//! | [`scope`] | scoped audit logs: a viewer's constraints and hidden fields in every reader |
//!
//! Each test gets a fresh database from `#[sqlx::test]` (`DATABASE_URL`).

mod activity;
mod audit_log;
mod contember;
mod fixture;
mod hawk;
mod model;
mod replay;
mod scope;
