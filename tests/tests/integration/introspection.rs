//! Introspection: what `#[event_log]` and `#[events]` compiled, read back through
//! the traits and through AshEvents' `Info` names in `events_core::info`.

use events_core::{ActionKind, EventLog as _, KeyType, LockKey, PrimaryKeyType, Resource, info};
use events_tests::alt::{AltLog, Counter};
use events_tests::app::{EventLog, Post, User};
use events_tests::custom_lock::TaggedLog;

#[test]
fn event_log_options_read_back() {
    assert_eq!(
        info::event_log_primary_key_type::<EventLog>(),
        PrimaryKeyType::Integer
    );
    assert_eq!(info::event_log_record_id_type::<EventLog>(), KeyType::Uuid);
    assert_eq!(
        info::event_log_clear_records_for_replay::<EventLog>(),
        Some("ClearAll")
    );
    assert_eq!(
        info::event_log_advisory_lock_key_default::<EventLog>(),
        LockKey::Single(2_147_483_647)
    );
    assert_eq!(
        info::event_log_advisory_lock_key_generator::<EventLog>(),
        "DefaultLockKeyGenerator"
    );
    assert_eq!(EventLog::TABLE, "events");

    let actors = info::event_log_persist_actor_primary_keys::<EventLog>();
    assert_eq!(actors.len(), 2);
    assert_eq!(
        (
            actors[0].name,
            actors[0].destination,
            actors[0].attribute_type
        ),
        ("user_id", "Admin", KeyType::Uuid)
    );
    assert!(actors[0].allow_nil && !actors[0].public);
    assert_eq!(
        (actors[1].name, actors[1].attribute_type),
        ("system_actor", KeyType::String)
    );

    assert_eq!(
        info::event_log_primary_key_type::<AltLog>(),
        PrimaryKeyType::UuidV7
    );
    assert_eq!(info::event_log_record_id_type::<AltLog>(), KeyType::Integer);
    assert_eq!(
        info::event_log_advisory_lock_key_default::<AltLog>(),
        LockKey::Pair(1337, 31337)
    );
    assert_eq!(info::event_log_clear_records_for_replay::<AltLog>(), None);
    assert_eq!(
        info::event_log_advisory_lock_key_generator::<TaggedLog>(),
        "LengthKeys"
    );
    assert_eq!(
        info::event_log_record_id_type::<TaggedLog>(),
        KeyType::String
    );
}

#[test]
fn replay_overrides_route_to_existing_actions() {
    let overrides = info::replay_overrides::<EventLog>();
    assert_eq!(overrides.len(), 1);
    let o = &overrides[0];
    assert_eq!(
        (o.resource, o.action, o.versions),
        ("User", "create", &[1_u32][..])
    );
    assert!(o.matches("User", "create", 1));
    assert!(!o.matches("User", "create", 2));
    assert_eq!(o.routes.len(), 1);
    assert_eq!(
        (o.routes[0].resource, o.routes[0].action),
        ("User", "create_v1")
    );
    // The route's function is the target's replay entry point.
    assert_eq!(
        o.routes[0].apply as usize,
        User::replay_fn("create_v1")
            .map(|f| f as usize)
            .unwrap_or_default()
    );
}

#[test]
fn resource_options_read_back() {
    assert!(info::events_event_log::<User>().ends_with("app::EventLog"));
    assert_eq!(
        info::events_ignore_actions::<User>(),
        &["create_v1", "touch"]
    );
    assert_eq!(
        info::events_current_action_versions::<User>(),
        &[("create", 2), ("update", 3), ("destroy", 2)]
    );
    let actions: Vec<(&str, ActionKind, u32, bool)> = info::events_actions::<User>()
        .iter()
        .map(|a| (a.name, a.kind, a.version, a.recorded))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("create", ActionKind::Create, 2, true),
            ("update", ActionKind::Update, 3, true),
            ("destroy", ActionKind::Destroy, 2, true),
            ("create_v1", ActionKind::Create, 1, false),
            ("signup", ActionKind::Create, 1, true),
            ("create_counter_from_other_log", ActionKind::Create, 1, true),
            ("touch", ActionKind::Update, 1, false),
        ]
    );
    assert_eq!(Post::NAME, "blog.post");
    assert_eq!(User::NAME, "User");
    assert!(Post::replay_fn("publish").is_some());
    assert!(Post::replay_fn("nope").is_none());
    assert_eq!(
        Counter::action("add").map(|a| a.kind),
        Some(ActionKind::Update)
    );
}
