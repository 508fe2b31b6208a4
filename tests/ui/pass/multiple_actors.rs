//! Three actor types, one column each, with every key shape; each can run an action.

use events_core::{ActionCtx, Actor, Error, EventLog as _, KeyType, event_log, events};

pub struct Admin;
impl Actor for Admin {
    type PrimaryKey = uuid::Uuid;
    fn primary_key(&self) -> uuid::Uuid {
        uuid::Uuid::nil()
    }
}

pub struct ApiClient(pub i64);
impl Actor for ApiClient {
    type PrimaryKey = i64;
    fn primary_key(&self) -> i64 {
        self.0
    }
}

pub struct SystemActor;
impl Actor for SystemActor {
    type PrimaryKey = String;
    fn primary_key(&self) -> String {
        "cron".to_owned()
    }
}

#[event_log(
    persist_actor_primary_key(user_id, Admin),
    persist_actor_primary_key(api_client_id, ApiClient, attribute_type = integer),
    persist_actor_primary_key(system_actor, SystemActor, attribute_type = string, allow_nil = true),
)]
pub struct EventLog;

pub struct Note;

#[events(event_log = EventLog)]
impl Note {
    #[create]
    pub async fn write(_ctx: &mut ActionCtx<'_>, _text: String) -> Result<Note, Error> {
        Ok(Note)
    }
}

fn main() {
    let _a = Note::write("by an admin".to_owned()).actor(&Admin);
    let _b = Note::write("by a client".to_owned()).actor(&ApiClient(7));
    let _c = Note::write("by the system".to_owned()).actor(&SystemActor);

    let columns = EventLog::ACTOR_COLUMNS;
    assert_eq!(columns.len(), 3);
    assert_eq!(columns[1].name, "api_client_id");
    assert_eq!(columns[1].attribute_type, KeyType::Integer);
    assert!(columns.iter().all(|c| c.allow_nil));
}
