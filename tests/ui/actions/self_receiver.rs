//! An action takes no `self`.

use events_core::{ActionCtx, Error, event_log, events};

#[event_log]
pub struct EventLog;

pub struct User;

#[events(event_log = EventLog)]
impl User {
    #[update]
    async fn rename(&self, _ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
