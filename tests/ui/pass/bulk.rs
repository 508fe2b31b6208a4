//! `#[bulk(action)]`: a bulk create and a bulk update compile, their wrappers
//! take the inputs (an update's as `(record_id, input)` pairs) and return a
//! `BulkCall` configured with the builder methods (built, not run).

use events_core::{ActionCtx, Actor, BulkCall, BulkCtx, Error, Resource, event_log, events};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub struct Admin {
    pub id: Uuid,
}

impl Actor for Admin {
    type PrimaryKey = Uuid;
    fn primary_key(&self) -> Uuid {
        self.id
    }
}

#[event_log(persist_actor_primary_key(user_id, Admin))]
pub struct EventLog;

pub struct User;

#[derive(Serialize, Deserialize)]
pub struct CreateUser {
    pub name: String,
}

#[derive(Serialize, Deserialize)]
pub struct UpdateUser {
    pub name: String,
}

#[events(event_log = EventLog)]
impl User {
    #[create]
    pub async fn create(_ctx: &mut ActionCtx<'_>, _input: CreateUser) -> Result<User, Error> {
        Ok(User)
    }

    #[update]
    pub async fn update(_ctx: &mut ActionCtx<'_>, _input: UpdateUser) -> Result<(), Error> {
        Ok(())
    }

    /// Creates many users; returns how many.
    #[bulk(create)]
    pub async fn create_many(
        ctx: &mut BulkCtx<'_>,
        inputs: Vec<CreateUser>,
    ) -> Result<usize, Error> {
        assert_eq!(ctx.record_ids().len(), inputs.len());
        Ok(inputs.len())
    }

    /// Updates many users.
    #[bulk(update)]
    pub async fn update_many(
        _ctx: &mut BulkCtx<'_>,
        _inputs: Vec<UpdateUser>,
    ) -> Result<(), Error> {
        Ok(())
    }
}

fn create_input(name: &str) -> CreateUser {
    CreateUser {
        name: name.to_owned(),
    }
}

fn main() {
    let admin = Admin { id: Uuid::nil() };

    // A bulk create takes any iterator of the create's input.
    let create: BulkCall<User, CreateUser, Result<usize, Error>> =
        User::create_many(["Ada", "Grace"].map(create_input))
            .actor(&admin)
            .metadata(serde_json::json!({ "source": "import" }))
            .tenant(42_i64)
            .record_ids([Uuid::now_v7(), Uuid::now_v7()]);
    assert_eq!(create.len(), 2);

    // A bulk update takes `(record_id, input)` pairs.
    let update: BulkCall<User, UpdateUser, Result<(), Error>> = User::update_many(vec![
        (
            Uuid::nil(),
            UpdateUser {
                name: "Ada L.".to_owned(),
            },
        ),
        (
            Uuid::max(),
            UpdateUser {
                name: "Grace H.".to_owned(),
            },
        ),
    ])
    .actor(&admin);
    assert_eq!(update.len(), 2);

    // An empty call is allowed.
    assert!(User::create_many(Vec::new()).is_empty());

    // A bulk method is not an action of its own: the resource lists the single
    // actions only, and the bulk events are theirs.
    let names: Vec<&str> = User::ACTIONS.iter().map(|a| a.name).collect();
    assert_eq!(names, ["create", "update"]);
}
