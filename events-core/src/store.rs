//! What a store implementation needs beyond [`EventStore`](crate::EventStore)
//! itself: the events it is asked to append and what it answers, and the
//! route table replay resolves from the registry of resources.
//!
//! Application code rarely names these: actions build [`NewEvent`]s and read
//! [`Appended`] through the call core, and replay runs through the store
//! (`events_postgres::PgEventStore::replay`). They are public so that another
//! store (or a tool appending events by hand) can be written against them.

pub use crate::event::{Appended, AppendedMany, NewEvent};
pub use crate::routes::{ResourceEntry, RouteTable, RouteTarget, registered_resources};
