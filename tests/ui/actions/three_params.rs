//! An action takes exactly two parameters; three is too many.

use events_core::{ActionCtx, Error, event_log, events};

#[event_log]
pub struct EventLog;

pub struct User;

#[events(event_log = EventLog)]
impl User {
    #[create]
    async fn create(
        _ctx: &mut ActionCtx<'_>,
        _name: String,
        _email: String,
    ) -> Result<User, Error> {
        Ok(User)
    }
}

fn main() {}
