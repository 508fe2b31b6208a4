//! A bare literal is not an option.

use events_core::event_log;

#[event_log("events")]
pub struct EventLog;

fn main() {}
