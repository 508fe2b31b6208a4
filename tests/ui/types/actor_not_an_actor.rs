//! A persist_actor_primary_key type must implement Actor.

use events_core::event_log;

pub struct Admin {
    pub id: uuid::Uuid,
}

#[event_log(persist_actor_primary_key(user_id, Admin))]
pub struct EventLog;

fn main() {}
