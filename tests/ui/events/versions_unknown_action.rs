//! `current_action_versions` names an action that is not in the impl block.

use events_core::{ActionCtx, Error, event_log, events};

#[event_log]
pub struct EventLog;

pub struct User;

#[events(event_log = EventLog, current_action_versions(create = 2, updat = 3))]
impl User {
    #[create]
    async fn create(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<User, Error> {
        Ok(User)
    }

    #[update]
    async fn update(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
