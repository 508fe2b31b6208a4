//! `record_id_type` is uuid, integer or string.

use events_core::event_log;

#[event_log(record_id_type = bigint)]
pub struct EventLog;

fn main() {}
