//! A body's context must use the event log's record id type (uuid here, not i64).

use events_core::{ActionCtx, Error, event_log, events};

#[event_log]
pub struct EventLog;

pub struct User;

#[events(event_log = EventLog)]
impl User {
    #[create]
    async fn create(_ctx: &mut ActionCtx<'_, i64>, _input: ()) -> Result<User, Error> {
        Ok(User)
    }
}

fn main() {}
