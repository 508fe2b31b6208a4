//! One actor type is persisted in one column only.

use events_core::{Actor, event_log};

pub struct Admin;
impl Actor for Admin {
    type PrimaryKey = uuid::Uuid;
    fn primary_key(&self) -> uuid::Uuid {
        uuid::Uuid::nil()
    }
}

#[event_log(
    persist_actor_primary_key(admin_id, Admin),
    persist_actor_primary_key(other_admin_id, Admin)
)]
pub struct EventLog;

fn main() {}
