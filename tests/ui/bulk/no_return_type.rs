//! A bulk action must return a `Result`.

use events_core::{ActionCtx, BulkCtx, Error, event_log, events};
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
    async fn create(_ctx: &mut ActionCtx<'_>, _input: CreateUser) -> Result<User, Error> {
        Ok(User)
    }

    #[bulk(create)]
    async fn create_many(_ctx: &mut BulkCtx<'_>, _inputs: Vec<CreateUser>) {}
}

fn main() {}
