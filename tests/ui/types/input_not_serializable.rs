//! An action input must be Serialize and Deserialize.

use events_core::{ActionCtx, Error, event_log, events};

#[event_log]
pub struct EventLog;

pub struct CreateUser {
    pub name: String,
}

pub struct User;

#[events(event_log = EventLog)]
impl User {
    #[create]
    async fn create(_ctx: &mut ActionCtx<'_>, _input: CreateUser) -> Result<User, Error> {
        Ok(User)
    }
}

fn main() {}
