//! An actor's primary key type must match its column's attribute_type.

use events_core::{Actor, event_log};

pub struct Admin {
    pub id: i64,
}

impl Actor for Admin {
    type PrimaryKey = i64;
    fn primary_key(&self) -> i64 {
        self.id
    }
}

// attribute_type defaults to uuid, but Admin's key is an i64.
#[event_log(persist_actor_primary_key(user_id, Admin))]
pub struct EventLog;

fn main() {}
