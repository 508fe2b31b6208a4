//! Introspection under AshEvents' names, `events_core::info::*`, from ordinary code.

use events_core::info::{
    event_log_advisory_lock_key_default, event_log_advisory_lock_key_generator,
    event_log_clear_records_for_replay, event_log_persist_actor_primary_keys,
    event_log_primary_key_type, event_log_record_id_type, events_actions,
    events_current_action_versions, events_event_log, events_ignore_actions, replay_overrides,
};
use events_core::{
    ActionCtx, ActionKind, Actor, Error, KeyType, LockKey, PrimaryKeyType, event_log, events,
};

pub struct Admin;
impl Actor for Admin {
    type PrimaryKey = String;
    fn primary_key(&self) -> String {
        "root".to_owned()
    }
}

#[event_log(
    record_id_type = string,
    advisory_lock_key_default = -5,
    persist_actor_primary_key(admin, Admin, attribute_type = string),
    replay_override(Page, write, versions = [1, 2], route_to(Page, write_v1)),
)]
pub struct Log;

pub struct Page;

#[events(event_log = Log, ignore_actions = [write_v1], current_action_versions(write = 3))]
impl Page {
    #[create]
    pub async fn write(_ctx: &mut ActionCtx<'_, String>, _body: String) -> Result<Page, Error> {
        Ok(Page)
    }

    #[create]
    async fn write_v1(_ctx: &mut ActionCtx<'_, String>, _body: String) -> Result<Page, Error> {
        Ok(Page)
    }

    #[destroy]
    pub async fn remove(_ctx: &mut ActionCtx<'_, String>, _input: ()) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {
    assert_eq!(event_log_primary_key_type::<Log>(), PrimaryKeyType::Integer);
    assert_eq!(event_log_record_id_type::<Log>(), KeyType::String);
    assert_eq!(event_log_clear_records_for_replay::<Log>(), None);
    assert_eq!(
        event_log_advisory_lock_key_default::<Log>(),
        LockKey::Single(-5)
    );
    assert_eq!(
        event_log_advisory_lock_key_generator::<Log>(),
        "DefaultLockKeyGenerator"
    );
    assert_eq!(
        event_log_persist_actor_primary_keys::<Log>()[0].destination,
        "Admin"
    );
    let overrides = replay_overrides::<Log>();
    assert_eq!(overrides[0].versions, &[1, 2]);
    assert_eq!(overrides[0].routes[0].resource, "Page");

    assert!(events_event_log::<Page>().ends_with("Log"));
    assert_eq!(events_ignore_actions::<Page>(), &["write_v1"]);
    assert_eq!(events_current_action_versions::<Page>(), &[("write", 3)]);
    let actions = events_actions::<Page>();
    assert_eq!(actions.len(), 3);
    assert_eq!(actions[2].name, "remove");
    assert_eq!(actions[2].kind, ActionKind::Destroy);
    assert_eq!(actions[2].version, 1);
}
