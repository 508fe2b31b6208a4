//! An action cannot be generic: its input is stored and replayed as one type.

use events_core::{ActionCtx, Error, event_log, events};

#[event_log]
pub struct EventLog;

pub struct User;

#[events(event_log = EventLog)]
impl User {
    #[create]
    async fn create<I>(_ctx: &mut ActionCtx<'_>, _input: I) -> Result<User, Error> {
        Ok(User)
    }
}

fn main() {}
