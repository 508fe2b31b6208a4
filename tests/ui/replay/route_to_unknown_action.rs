//! A route_to target action must exist on the target resource.

use events_core::{ActionCtx, Error, event_log, events};

#[event_log(
    replay_override(User, create, versions = [1], route_to(User, create_v0)),
)]
pub struct EventLog;

pub struct User;

#[events(event_log = EventLog, ignore_actions = [create_v1])]
impl User {
    #[create]
    async fn create(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<User, Error> {
        Ok(User)
    }

    #[create]
    async fn create_v1(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<User, Error> {
        Ok(User)
    }
}

fn main() {}
