//! An action's context is an `ActionCtx`; a `BulkCtx` is for `#[bulk(..)]` methods.

use events_core::{BulkCtx, Error, event_log, events};
use serde::{Deserialize, Serialize};

#[event_log]
pub struct EventLog;

pub struct User;

#[derive(Serialize, Deserialize)]
pub struct CreateUser {
    pub name: String,
}

#[events(event_log = EventLog)]
impl User {
    #[create]
    async fn create(_ctx: &mut BulkCtx<'_>, _input: CreateUser) -> Result<User, Error> {
        Ok(User)
    }
}

fn main() {}
