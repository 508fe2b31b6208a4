//! `attribute_type` is uuid, integer or string (with a did-you-mean).

use events_core::{Actor, event_log};

pub struct Admin;
impl Actor for Admin {
    type PrimaryKey = uuid::Uuid;
    fn primary_key(&self) -> uuid::Uuid {
        uuid::Uuid::nil()
    }
}

#[event_log(persist_actor_primary_key(user_id, Admin, attribute_type = uuidd))]
pub struct EventLog;

fn main() {}
