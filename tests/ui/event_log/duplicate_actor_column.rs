//! Two actors cannot share a column name.

use events_core::{Actor, event_log};

pub struct Admin;
impl Actor for Admin {
    type PrimaryKey = uuid::Uuid;
    fn primary_key(&self) -> uuid::Uuid {
        uuid::Uuid::nil()
    }
}

pub struct Customer;
impl Actor for Customer {
    type PrimaryKey = uuid::Uuid;
    fn primary_key(&self) -> uuid::Uuid {
        uuid::Uuid::nil()
    }
}

#[event_log(
    persist_actor_primary_key(user_id, Admin),
    persist_actor_primary_key(user_id, Customer)
)]
pub struct EventLog;

fn main() {}
