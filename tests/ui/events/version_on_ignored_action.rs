//! An ignored action writes no events, so it has no version.

use events_core::{ActionCtx, Error, event_log, events};

#[event_log]
pub struct EventLog;

pub struct User;

#[events(
    event_log = EventLog,
    ignore_actions = [create_v1],
    current_action_versions(create = 2, create_v1 = 2),
)]
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
