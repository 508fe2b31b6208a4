//! #[events] goes on an inherent impl block, not a trait impl.

use events_core::{event_log, events};

#[event_log]
pub struct EventLog;

pub struct User;

#[events(event_log = EventLog)]
impl Default for User {
    fn default() -> Self {
        User
    }
}

fn main() {}
