//! An actor column cannot reuse one of the event table's own columns.

use events_core::{Actor, event_log};

pub struct Admin;
impl Actor for Admin {
    type PrimaryKey = uuid::Uuid;
    fn primary_key(&self) -> uuid::Uuid {
        uuid::Uuid::nil()
    }
}

#[event_log(persist_actor_primary_key(metadata, Admin))]
pub struct EventLog;

fn main() {}
