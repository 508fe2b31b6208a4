//! The design sketch: both macros with every option, and a call built (not run).

use events_core::{
    ActionCtx, Actor, AdvisoryLockKeyGenerator, ClearRecords, Error, EventLog as _, LockKey,
    LockKeyInput, Resource, event_log, events,
};
use serde::{Deserialize, Serialize};

pub struct ClearAll;
impl ClearRecords for ClearAll {
    async fn clear_records(_conn: &mut sqlx::PgConnection) -> Result<(), Error> {
        Ok(())
    }
}

pub struct MyKeys;
impl AdvisoryLockKeyGenerator for MyKeys {
    fn generate_key(_input: &LockKeyInput<'_>, default: LockKey) -> Result<LockKey, Error> {
        Ok(default)
    }
}

#[derive(Debug, Clone)]
pub struct Admin {
    pub id: uuid::Uuid,
}
impl Actor for Admin {
    type PrimaryKey = uuid::Uuid;
    fn primary_key(&self) -> uuid::Uuid {
        self.id
    }
}

pub struct SystemActor;
impl Actor for SystemActor {
    type PrimaryKey = String;
    fn primary_key(&self) -> String {
        "system".to_owned()
    }
}

#[event_log(
    clear_records_for_replay = ClearAll,
    primary_key_type = integer,
    record_id_type = uuid,
    advisory_lock_key_default = 2147483647,
    advisory_lock_key_generator = MyKeys,
    persist_actor_primary_key(user_id, Admin, allow_nil = true, public = true),
    persist_actor_primary_key(system_actor, SystemActor, attribute_type = string),
    replay_override(User, create, versions = [1], route_to(User, create_v1)),
    table = "app.events",
)]
pub struct EventLog;

pub struct User {
    pub id: uuid::Uuid,
    pub name: String,
}

#[derive(Serialize, Deserialize)]
pub struct CreateUser {
    pub name: String,
}

#[derive(Serialize, Deserialize)]
pub struct CreateUserV1 {
    pub full_name: String,
}

#[derive(Serialize, Deserialize)]
pub struct UpdateUser {
    pub name: String,
}

#[events(
    event_log = EventLog,
    ignore_actions = [create_v1],
    current_action_versions(create = 2, update = 3, destroy = 2),
    name = "accounts.user",
)]
impl User {
    /// Creates a user.
    #[create]
    pub async fn create(ctx: &mut ActionCtx<'_>, input: CreateUser) -> Result<User, Error> {
        Ok(User {
            id: ctx.record_id(),
            name: input.name,
        })
    }

    #[update]
    pub async fn update(ctx: &mut ActionCtx<'_>, input: UpdateUser) -> Result<User, Error> {
        Ok(User {
            id: ctx.record_id(),
            name: input.name,
        })
    }

    #[destroy]
    pub async fn destroy(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> {
        Ok(())
    }

    #[create]
    async fn create_v1(ctx: &mut ActionCtx<'_>, input: CreateUserV1) -> Result<User, Error> {
        Ok(User {
            id: ctx.record_id(),
            name: input.full_name,
        })
    }
}

fn main() {
    let admin = Admin {
        id: uuid::Uuid::nil(),
    };
    let _create = User::create(CreateUser {
        name: "Ada".to_owned(),
    })
    .actor(&admin)
    .metadata(serde_json::json!({ "source": "api" }))
    .tenant(42_i64);
    let _update = User::update(
        uuid::Uuid::nil(),
        UpdateUser {
            name: "Grace".to_owned(),
        },
    )
    .actor(&SystemActor);
    let _destroy = User::destroy(uuid::Uuid::nil(), ());

    assert_eq!(<User as Resource>::NAME, "accounts.user");
    assert_eq!(<User as Resource>::IGNORED_ACTIONS, &["create_v1"]);
    assert_eq!(<EventLog as events_core::EventLog>::TABLE, "app.events");
    assert_eq!(EventLog::REPLAY_OVERRIDES.len(), 1);
    assert!(EventLog::REPLAY_OVERRIDES[0].matches("accounts.user", "create", 1));
    assert_eq!(EventLog::REPLAY_OVERRIDES[0].routes[0].action, "create_v1");
}
