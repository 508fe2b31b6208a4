//! `only_actions` records the listed actions and ignores the rest.

use events_core::{ActionCtx, Error, Resource, event_log, events};

#[event_log]
pub struct EventLog;

pub struct User;

#[events(event_log = EventLog, only_actions = [create], current_action_versions(create = 2))]
impl User {
    #[create]
    pub async fn create(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<User, Error> {
        Ok(User)
    }

    #[update]
    pub async fn touch(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {
    assert_eq!(User::IGNORED_ACTIONS, &["touch"]);
    let create = User::action("create").expect("create is an action");
    assert!(create.recorded);
    assert_eq!(create.version, 2);
    assert!(!User::action("touch").expect("touch is an action").recorded);
}
