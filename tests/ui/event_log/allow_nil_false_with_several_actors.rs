//! With several actor columns, none may have `allow_nil = false`.

use events_core::{Actor, event_log};

pub struct Admin;
impl Actor for Admin {
    type PrimaryKey = uuid::Uuid;
    fn primary_key(&self) -> uuid::Uuid {
        uuid::Uuid::nil()
    }
}

pub struct SystemActor;
impl Actor for SystemActor {
    type PrimaryKey = String;
    fn primary_key(&self) -> String {
        "system".to_owned()
    }
}

#[event_log(
    persist_actor_primary_key(user_id, Admin, allow_nil = false),
    persist_actor_primary_key(system_actor, SystemActor, attribute_type = string),
)]
pub struct EventLog;

fn main() {}
