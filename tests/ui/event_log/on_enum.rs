//! #[event_log] goes on a struct, not an enum.

use events_core::event_log;

#[event_log]
pub enum EventLog {
    Main,
}

fn main() {}
