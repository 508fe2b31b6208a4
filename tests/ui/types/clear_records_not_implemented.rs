//! `clear_records_for_replay` names a ClearRecords type.

use events_core::event_log;

pub struct ClearAll;

#[event_log(clear_records_for_replay = ClearAll)]
pub struct EventLog;

fn main() {}
