//! An action takes exactly two parameters; one is too few.

use events_core::{ActionCtx, Error, event_log, events};

#[event_log]
pub struct EventLog;

pub struct User;

#[events(event_log = EventLog)]
impl User {
    #[create]
    async fn create(_ctx: &mut ActionCtx<'_>) -> Result<User, Error> {
        Ok(User)
    }
}

fn main() {}
