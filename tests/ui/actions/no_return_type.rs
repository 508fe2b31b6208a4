//! An action must return a `Result`.

use events_core::{ActionCtx, event_log, events};

#[event_log]
pub struct EventLog;

pub struct User;

#[events(event_log = EventLog)]
impl User {
    #[destroy]
    async fn destroy(_ctx: &mut ActionCtx<'_>, _input: ()) {}
}

fn main() {}
