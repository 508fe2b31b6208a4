//! `advisory_lock_scope` is global, tenant or record (with a did-you-mean).

use events_core::event_log;

#[event_log(advisory_lock_scope = records)]
pub struct EventLog;

fn main() {}
