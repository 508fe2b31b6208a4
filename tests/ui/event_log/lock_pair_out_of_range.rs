//! Each key of an `advisory_lock_key_default` pair must fit an i32.

use events_core::event_log;

#[event_log(advisory_lock_key_default = [1337, 2147483648])]
pub struct EventLog;

fn main() {}
