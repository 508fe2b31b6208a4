//! The application under test: an event log with an admin column and a
//! string actor column (where a hostile key can go), and notes whose actions
//! record their changes.

use events_core::{ActionCtx, Actor, Error, event_log, events};
use events_postgres::PgEventStore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

/// The test application's event log.
#[event_log(
    persist_actor_primary_key(admin_id, Admin),
    persist_actor_primary_key(bot, Bot, attribute_type = string),
)]
pub struct TestLog;

/// A person, recorded in `admin_id`.
pub struct Admin {
    /// Primary key.
    pub id: Uuid,
}

impl Actor for Admin {
    type PrimaryKey = Uuid;
    fn primary_key(&self) -> Uuid {
        self.id
    }
}

/// A process, recorded in `bot` by name.
pub struct Bot(pub String);

impl Actor for Bot {
    type PrimaryKey = String;
    fn primary_key(&self) -> String {
        self.0.clone()
    }
}

/// A note.
#[derive(Debug)]
pub struct Note {
    /// Its id.
    pub id: Uuid,
}

/// A note's title: the input of both actions.
#[derive(Serialize, Deserialize)]
pub struct Title {
    /// The title.
    pub title: String,
}

#[events(event_log = TestLog)]
impl Note {
    /// Creates a note.
    #[create]
    pub async fn create(ctx: &mut ActionCtx<'_>, input: Title) -> Result<Note, Error> {
        sqlx::query("INSERT INTO notes (id, title) VALUES ($1, $2)")
            .bind(ctx.record_id())
            .bind(&input.title)
            .execute(ctx.conn())
            .await?;
        ctx.record_created(&json!({ "title": input.title })).await?;
        Ok(Note {
            id: ctx.record_id(),
        })
    }

    /// Changes a note's title.
    #[update]
    pub async fn retitle(ctx: &mut ActionCtx<'_>, input: Title) -> Result<Note, Error> {
        let old: String = sqlx::query_scalar("SELECT title FROM notes WHERE id = $1")
            .bind(ctx.record_id())
            .fetch_one(ctx.conn())
            .await?;
        sqlx::query("UPDATE notes SET title = $2 WHERE id = $1")
            .bind(ctx.record_id())
            .bind(&input.title)
            .execute(ctx.conn())
            .await?;
        ctx.record_updated(&json!({ "title": old }), &json!({ "title": input.title }))
            .await?;
        Ok(Note {
            id: ctx.record_id(),
        })
    }
}

/// The store over a fresh database, migrated, with the notes table.
pub async fn store(pool: &PgPool) -> Result<PgEventStore<TestLog>, Error> {
    let store = PgEventStore::<TestLog>::new(pool.clone());
    store.migrate().await?;
    sqlx::query("CREATE TABLE notes (id uuid PRIMARY KEY, title text NOT NULL)")
        .execute(pool)
        .await?;
    Ok(store)
}
