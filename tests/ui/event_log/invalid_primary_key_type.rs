//! `primary_key_type` is integer or uuid_v7 (with a did-you-mean).

use events_core::event_log;

#[event_log(primary_key_type = uuid)]
pub struct EventLog;

fn main() {}
