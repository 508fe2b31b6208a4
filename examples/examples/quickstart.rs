//! Quickstart: declare an event log and two resources, run recorded actions, and
//! print the log.
//!
//! It shows:
//! - `#[event_log(...)]` with two actor columns (an admin and a system process);
//! - `#[events(...)]` on two resources, with versioned and ignored actions;
//! - calling generated actions with `.actor(..)`, `.metadata(..)` and `.run(&store)`;
//! - a bulk action: many inputs, one event each, written by one statement;
//! - that a failing action stores neither its state change nor its event;
//! - reading the events back.
//!
//! Run it with `cargo run --example quickstart`. It uses `DATABASE_URL` if set,
//! else PostgreSQL at 127.0.0.1:5432, else a throwaway cluster.

use events_core::{ActionCtx, Actor, BulkCtx, Error, event_log, events};
use events_postgres::PgEventStore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

// ---- The event log -------------------------------------------------------------

/// Every recorded action of the application lands in this one table.
#[event_log(
    persist_actor_primary_key(admin_id, Admin),
    persist_actor_primary_key(system_actor, SystemActor, attribute_type = string),
)]
pub struct EventLog;

/// A person operating the application; stored in the `admin_id` column.
pub struct Admin {
    id: Uuid,
}

impl Actor for Admin {
    type PrimaryKey = Uuid;
    fn primary_key(&self) -> Uuid {
        self.id
    }
}

/// A background job; stored in the `system_actor` column.
pub struct SystemActor(&'static str);

impl Actor for SystemActor {
    type PrimaryKey = String;
    fn primary_key(&self) -> String {
        self.0.to_owned()
    }
}

// ---- Resource: users -----------------------------------------------------------

/// A user of the application.
#[derive(Debug)]
pub struct User {
    id: Uuid,
    email: String,
}

/// Input of `User::register`.
#[derive(Serialize, Deserialize)]
pub struct Register {
    email: String,
}

/// Input of `User::change_email`.
#[derive(Serialize, Deserialize)]
pub struct ChangeEmail {
    email: String,
}

#[events(event_log = EventLog, current_action_versions(register = 2))]
impl User {
    /// Registers a user. Version 2: the version stored with its events.
    #[create]
    pub async fn register(ctx: &mut ActionCtx<'_>, input: Register) -> Result<User, Error> {
        let user = User {
            id: ctx.record_id(),
            email: input.email,
        };
        sqlx::query("INSERT INTO users (id, email, created_at) VALUES ($1, $2, $3)")
            .bind(user.id)
            .bind(&user.email)
            .bind(ctx.now())
            .execute(ctx.conn())
            .await?;
        Ok(user)
    }

    /// Registers many users with one statement: the bulk form of `register`. Its
    /// events are `register` events, which replay one by one through `register`.
    #[bulk(register)]
    pub async fn register_many(
        ctx: &mut BulkCtx<'_>,
        inputs: Vec<Register>,
    ) -> Result<usize, Error> {
        let emails: Vec<&str> = inputs.iter().map(|i| i.email.as_str()).collect();
        sqlx::query(
            "INSERT INTO users (id, email, created_at) \
             SELECT id, email, $3 FROM unnest($1::uuid[], $2::text[]) AS u(id, email)",
        )
        .bind(ctx.record_ids())
        .bind(&emails)
        .bind(ctx.now())
        .execute(ctx.conn())
        .await?;
        Ok(inputs.len())
    }

    /// Changes a user's email; fails on a duplicate, and then records nothing.
    #[update]
    pub async fn change_email(ctx: &mut ActionCtx<'_>, input: ChangeEmail) -> Result<User, Error> {
        sqlx::query("UPDATE users SET email = $2 WHERE id = $1")
            .bind(ctx.record_id())
            .bind(&input.email)
            .execute(ctx.conn())
            .await?;
        Ok(User {
            id: ctx.record_id(),
            email: input.email,
        })
    }

    /// Deletes a user.
    #[destroy]
    pub async fn delete(ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> {
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(ctx.record_id())
            .execute(ctx.conn())
            .await?;
        Ok(())
    }
}

// ---- Resource: projects --------------------------------------------------------

/// A project owned by a user.
#[derive(Debug)]
pub struct Project {
    id: Uuid,
    name: String,
}

/// Input of `Project::create`.
#[derive(Serialize, Deserialize)]
pub struct NewProject {
    owner: Uuid,
    name: String,
}

/// Input of `Project::rename`.
#[derive(Serialize, Deserialize)]
pub struct Rename {
    name: String,
}

#[events(event_log = EventLog, name = "projects.project", ignore_actions = [recount])]
impl Project {
    /// Creates a project.
    #[create]
    pub async fn create(ctx: &mut ActionCtx<'_>, input: NewProject) -> Result<Project, Error> {
        sqlx::query("INSERT INTO projects (id, owner_id, name) VALUES ($1, $2, $3)")
            .bind(ctx.record_id())
            .bind(input.owner)
            .bind(&input.name)
            .execute(ctx.conn())
            .await?;
        Ok(Project {
            id: ctx.record_id(),
            name: input.name,
        })
    }

    /// Renames a project.
    #[update]
    pub async fn rename(ctx: &mut ActionCtx<'_>, input: Rename) -> Result<Project, Error> {
        sqlx::query("UPDATE projects SET name = $2 WHERE id = $1")
            .bind(ctx.record_id())
            .bind(&input.name)
            .execute(ctx.conn())
            .await?;
        Ok(Project {
            id: ctx.record_id(),
            name: input.name,
        })
    }

    /// Recomputes a cached counter: derived state, so not recorded.
    #[update]
    pub async fn recount(ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> {
        sqlx::query("UPDATE projects SET renames = (SELECT count(*) FROM events WHERE record_id = $1 AND action = 'rename') WHERE id = $1")
            .bind(ctx.record_id())
            .execute(ctx.conn())
            .await?;
        Ok(())
    }

    /// Archives (deletes) a project.
    #[destroy]
    pub async fn archive(ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> {
        sqlx::query("DELETE FROM projects WHERE id = $1")
            .bind(ctx.record_id())
            .execute(ctx.conn())
            .await?;
        Ok(())
    }
}

// ---- Running it ----------------------------------------------------------------

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = events_examples::connect("events_quickstart").await?;
    println!("Using {}.\n", db.source);

    let store = PgEventStore::<EventLog>::new(db.pool.clone());
    store.migrate().await?;
    sqlx::raw_sql(
        "CREATE TABLE users (id uuid PRIMARY KEY, email text NOT NULL UNIQUE, created_at timestamptz NOT NULL);
         CREATE TABLE projects (id uuid PRIMARY KEY, owner_id uuid NOT NULL, name text NOT NULL, renames int NOT NULL DEFAULT 0);",
    )
    .execute(&db.pool)
    .await?;

    let admin = Admin { id: Uuid::now_v7() };
    let importer = SystemActor("csv-importer");

    let ada = User::register(Register {
        email: "ada@example.com".into(),
    })
    .actor(&admin)
    .metadata(json!({ "source": "admin-ui", "request_id": "req-7f3a" }))
    .run(&store)
    .await?;
    let grace = User::register(Register {
        email: "grace@example.com".into(),
    })
    .actor(&importer)
    .metadata(json!({ "source": "import", "line": 2 }))
    .run(&store)
    .await?;
    let engine = Project::create(NewProject {
        owner: ada.id,
        name: "Analytical Engine".into(),
    })
    .actor(&admin)
    .run(&store)
    .await?;
    let engine = Project::rename(
        engine.id,
        Rename {
            name: "Difference Engine".into(),
        },
    )
    .actor(&admin)
    .run(&store)
    .await?;
    println!("Renamed the project to {:?}.", engine.name);
    Project::recount(engine.id, ()).run(&store).await?;

    // An import: one call, one event per user, one statement for all of them.
    let imported = User::register_many(
        [
            "alan@example.com",
            "edsger@example.com",
            "barbara@example.com",
        ]
        .map(|email| Register {
            email: email.into(),
        }),
    )
    .actor(&importer)
    .metadata(json!({ "source": "import", "file": "users.csv" }))
    .run(&store)
    .await?;
    println!("Imported {imported} users in one call.");

    // A unique violation: the update rolls back, and so does its event.
    let clash = User::change_email(
        grace.id,
        ChangeEmail {
            email: "ada@example.com".into(),
        },
    )
    .actor(&admin)
    .run(&store)
    .await;
    println!(
        "Changing grace's email to ada's fails: {}\n",
        clash.as_ref().err().map_or("?".into(), ToString::to_string)
    );

    User::change_email(
        grace.id,
        ChangeEmail {
            email: "grace.hopper@example.com".into(),
        },
    )
    .actor(&admin)
    .run(&store)
    .await?;
    Project::archive(engine.id, ())
        .actor(&importer)
        .run(&store)
        .await?;
    User::delete(ada.id, ())
        .actor(&admin)
        .metadata(json!({ "reason": "requested erasure" }))
        .run(&store)
        .await?;

    let events = store.list_events(None, 100).await?;
    println!(
        "{} events recorded (the failed update and the ignored `recount` are absent):",
        events.len()
    );
    println!("{}", events_examples::events_table(&events));

    let history = store.events_for_record("User", grace.id).await?;
    let actions: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
    println!("\nHistory of {}: {}", grace.email, actions.join(" → "));
    Ok(())
}
