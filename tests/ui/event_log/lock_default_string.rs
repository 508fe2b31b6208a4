//! `advisory_lock_key_default` is a number, not a string.

use events_core::event_log;

#[event_log(advisory_lock_key_default = "2147483647")]
pub struct EventLog;

fn main() {}
