//! A single-valued option is given once.

use events_core::event_log;

#[event_log(record_id_type = uuid, record_id_type = integer)]
pub struct EventLog;

fn main() {}
