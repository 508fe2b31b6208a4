//! With a single actor column, `allow_nil = false` is allowed.

use events_core::{Actor, EventLog as _, event_log};

pub struct Admin;
impl Actor for Admin {
    type PrimaryKey = uuid::Uuid;
    fn primary_key(&self) -> uuid::Uuid {
        uuid::Uuid::nil()
    }
}

#[event_log(persist_actor_primary_key(user_id, Admin, allow_nil = false))]
pub struct EventLog;

fn main() {
    assert!(!EventLog::ACTOR_COLUMNS[0].allow_nil);
}
