//! #[events] goes on an impl block, not a struct.

use events_core::{event_log, events};

#[event_log]
pub struct EventLog;

#[events(event_log = EventLog)]
pub struct User;

fn main() {}
