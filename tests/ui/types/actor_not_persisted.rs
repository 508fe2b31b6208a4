//! `.actor(&x)` needs an actor type the event log persists.

use events_core::{ActionCtx, Actor, Error, event_log, events};

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

pub struct Customer;
impl Actor for Customer {
    type PrimaryKey = uuid::Uuid;
    fn primary_key(&self) -> uuid::Uuid {
        uuid::Uuid::nil()
    }
}

#[event_log(
    persist_actor_primary_key(user_id, Admin),
    persist_actor_primary_key(system_actor, SystemActor, attribute_type = string),
)]
pub struct EventLog;

pub struct User;

#[events(event_log = EventLog)]
impl User {
    #[create]
    pub async fn create(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<User, Error> {
        Ok(User)
    }
}

fn main() {
    let _call = User::create(()).actor(&Customer);
}
