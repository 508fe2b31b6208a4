//! A route_to target is an action, not the bulk form of one.

use events_core::{ActionCtx, BulkCtx, Error, event_log, events};

#[event_log(
    replay_override(User, create, versions = [1], route_to(User, create_many)),
)]
pub struct EventLog;

pub struct User;

#[events(event_log = EventLog)]
impl User {
    #[create]
    async fn create(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<User, Error> {
        Ok(User)
    }

    #[bulk(create)]
    async fn create_many(_ctx: &mut BulkCtx<'_>, _inputs: Vec<()>) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
