//! `track_commit_time` is `true` or `false`.

use events_core::event_log;

#[event_log(track_commit_time = "yes")]
pub struct EventLog;

fn main() {}
