//! An action returns a `Result`, not an `Option`.

use events_core::{ActionCtx, event_log, events};

#[event_log]
pub struct EventLog;

pub struct User;

#[events(event_log = EventLog)]
impl User {
    #[create]
    async fn create(_ctx: &mut ActionCtx<'_>, _input: ()) -> Option<User> {
        Some(User)
    }
}

fn main() {}
