//! `advisory_lock_key_generator` names an AdvisoryLockKeyGenerator.

use events_core::event_log;

pub struct MyKeys;

#[event_log(advisory_lock_key_generator = MyKeys)]
pub struct EventLog;

fn main() {}
