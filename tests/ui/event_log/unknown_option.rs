//! An unknown #[event_log] option, with a did-you-mean.

use events_core::event_log;

#[event_log(primary_key_typ = integer)]
pub struct EventLog;

fn main() {}
