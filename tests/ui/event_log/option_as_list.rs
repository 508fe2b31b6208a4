//! A value option written as a list: `primary_key_type(integer)`.

use events_core::event_log;

#[event_log(primary_key_type(integer))]
pub struct EventLog;

fn main() {}
