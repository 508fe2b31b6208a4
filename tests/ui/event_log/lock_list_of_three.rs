//! `advisory_lock_key_default` is one key or a pair, not a list of three.

use events_core::event_log;

#[event_log(advisory_lock_key_default = [1, 2, 3])]
pub struct EventLog;

fn main() {}
