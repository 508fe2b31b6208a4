//! An action must be an `async fn`.

use events_core::{ActionCtx, Error, event_log, events};

#[event_log]
pub struct EventLog;

pub struct User;

#[events(event_log = EventLog)]
impl User {
    #[create]
    fn create(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<User, Error> {
        Ok(User)
    }
}

fn main() {}
