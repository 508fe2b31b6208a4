//! Two replay_overrides cannot route the same version.

use events_core::{ActionCtx, Error, event_log, events};

#[event_log(
    replay_override(User, create, versions = [1, 2], route_to(User, create_v1)),
    replay_override(User, create, versions = [2, 3], route_to(User, create_v1)),
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
