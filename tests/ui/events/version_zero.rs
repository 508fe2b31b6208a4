//! Versions start at 1.

use events_core::{ActionCtx, Error, event_log, events};

#[event_log]
pub struct EventLog;

pub struct User;

#[events(event_log = EventLog, current_action_versions(create = 0))]
impl User {
    #[create]
    async fn create(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<User, Error> {
        Ok(User)
    }
}

fn main() {}
