//! `event_log = X` names an #[event_log] struct.

use events_core::{ActionCtx, Error, events};

pub struct EventLog;

pub struct User;

#[events(event_log = EventLog)]
impl User {
    #[create]
    async fn create(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<User, Error> {
        Ok(User)
    }
}

fn main() {}
