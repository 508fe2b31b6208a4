//! `advisory_lock_key_default` must fit an i64.

use events_core::event_log;

#[event_log(advisory_lock_key_default = 9223372036854775808)]
pub struct EventLog;

fn main() {}
