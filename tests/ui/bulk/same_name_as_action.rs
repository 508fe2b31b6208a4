//! A bulk method has a name of its own: one that an action has is one error.

use events_core::{ActionCtx, BulkCtx, Error, event_log, events};

#[event_log]
pub struct EventLog;

pub struct User;

#[events(event_log = EventLog)]
impl User {
    #[create]
    async fn create(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<User, Error> {
        Ok(User)
    }

    #[bulk(create)]
    async fn create(_ctx: &mut BulkCtx<'_>, _inputs: Vec<()>) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
