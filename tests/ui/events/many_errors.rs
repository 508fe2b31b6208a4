//! Every mistake of one #[events] attribute is reported in one build.

use events_core::{ActionCtx, Error, event_log, events};

#[event_log]
pub struct EventLog;

pub struct User;

#[events(
    event_log = EventLog,
    ignore_actions = [crate_v1],
    current_action_versions(create = 0, destroy = 2),
    colour = 1,
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
