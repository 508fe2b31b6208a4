//! Every mistake of one #[event_log] attribute is reported in one build.

use events_core::event_log;

#[event_log(
    primary_key_type = bigint,
    record_id_type = float,
    colour = blue,
    advisory_lock_key_default = [1, 2, 3],
    table = "Events",
)]
pub struct EventLog;

fn main() {}
