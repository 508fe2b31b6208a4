//! `table` must be a plain SQL name.

use events_core::event_log;

#[event_log(table = "my events; drop table users")]
pub struct EventLog;

fn main() {}
