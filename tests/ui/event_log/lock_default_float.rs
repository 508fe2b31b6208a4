//! `advisory_lock_key_default` is an integer, not a float.

use events_core::event_log;

#[event_log(advisory_lock_key_default = 1.5)]
pub struct EventLog;

fn main() {}
