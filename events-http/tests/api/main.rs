//! The HTTP API on a real server over a real database: each test gets a fresh
//! database from `#[sqlx::test]` (`DATABASE_URL`), seeds a small log, serves
//! the router on 127.0.0.1 and calls it with an HTTP client.
//!
//! | module | what |
//! | --- | --- |
//! | [`query`] | every filter (matching and excluding), orders, numbered pages in each count mode, keyset and offset paging |
//! | [`records`] | one entry, a record's history with its values, facets, typeahead, the OpenAPI document |
//! | [`scope`] | viewers restricted to tenants, actions, resources; hidden fields |
//! | [`errors`] | malformed parameters, deny by default, 401, nested mounting |
//! | [`stream`] | the live stream: new entries, resuming, scope and hidden fields |

mod errors;
mod fixture;
mod query;
mod records;
mod scope;
mod stream;
