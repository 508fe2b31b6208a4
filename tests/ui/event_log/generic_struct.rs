//! #[event_log] does not go on a generic struct.

use events_core::event_log;

#[event_log]
pub struct EventLog<T>(std::marker::PhantomData<T>);

fn main() {}
