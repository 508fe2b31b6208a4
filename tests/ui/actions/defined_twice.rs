//! An action is defined once per impl block: a second definition is one error on
//! its name, not rustc's duplicates of the generated items.

use events_core::{ActionCtx, Error, event_log, events};

#[event_log]
pub struct EventLog;

pub struct User;

#[events(event_log = EventLog)]
impl User {
    #[create]
    async fn create(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<User, Error> {
        Ok(User)
    }

    #[update]
    async fn create(_ctx: &mut ActionCtx<'_>, _input: u32) -> Result<User, Error> {
        Ok(User)
    }
}

fn main() {
    // The first definition is still the action.
    let _ = User::create(());
}
