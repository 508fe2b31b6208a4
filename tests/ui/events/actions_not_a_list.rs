//! `ignore_actions` takes a bracketed list.

use events_core::{ActionCtx, Error, event_log, events};

#[event_log]
pub struct EventLog;

pub struct User;

#[events(event_log = EventLog, ignore_actions = touch)]
impl User {
    #[create]
    async fn create(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<User, Error> {
        Ok(User)
    }

    #[update]
    async fn touch(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
