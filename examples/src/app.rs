//! The quickstart's application as a library, for its `events` command line
//! (`src/bin/events.rs`) and the command line's tests: the same event log
//! (an admin and a system process as actors) and resources (users, projects),
//! plus what an operated application has besides: `clear_records_for_replay`,
//! so `events replay` can rebuild the two tables, and bodies that record the
//! changes of their writes, so `events history` shows old and new values.
//!
//! - [`SCHEMA`]: the application's tables, which `events migrate` creates
//!   ([`Cli::app_schema`](events_cli::Cli::app_schema)).
//! - [`story`]: the quickstart's actions, a small log to look at.
//! - [`seed_users`]: many registrations, written in bulk, for a long replay.

use events_core::{ActionCtx, Actor, BulkCtx, ClearRecords, Error, event_log, events};
use events_postgres::PgEventStore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

/// The application's tables: re-runnable, as `Cli::app_schema` asks.
pub const SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS users (id uuid PRIMARY KEY, email text NOT NULL UNIQUE, created_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS projects (id uuid PRIMARY KEY, owner_id uuid NOT NULL, name text NOT NULL, renames int NOT NULL DEFAULT 0);
";

/// Every recorded action of the application lands in this one table.
#[event_log(
    clear_records_for_replay = ClearState,
    persist_actor_primary_key(admin_id, Admin),
    persist_actor_primary_key(system_actor, SystemActor, attribute_type = string),
)]
pub struct EventLog;

/// What replay rebuilds: both tables.
pub struct ClearState;

impl ClearRecords for ClearState {
    async fn clear_records(conn: &mut PgConnection) -> Result<(), Error> {
        sqlx::query("DELETE FROM projects")
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM users").execute(&mut *conn).await?;
        Ok(())
    }
}

/// A person operating the application; stored in the `admin_id` column.
pub struct Admin {
    /// The admin's id.
    pub id: Uuid,
}

impl Actor for Admin {
    type PrimaryKey = Uuid;
    fn primary_key(&self) -> Uuid {
        self.id
    }
}

/// A background job; stored in the `system_actor` column.
pub struct SystemActor(pub &'static str);

impl Actor for SystemActor {
    type PrimaryKey = String;
    fn primary_key(&self) -> String {
        self.0.to_owned()
    }
}

/// A user of the application.
#[derive(Debug, Serialize)]
pub struct User {
    /// The user's id.
    pub id: Uuid,
    /// The user's email.
    pub email: String,
}

/// Input of `User::register`.
#[derive(Serialize, Deserialize)]
pub struct Register {
    /// The new user's email.
    pub email: String,
}

/// Input of `User::change_email`.
#[derive(Serialize, Deserialize)]
pub struct ChangeEmail {
    /// The new email.
    pub email: String,
}

async fn user_row(ctx: &mut ActionCtx<'_>) -> Result<serde_json::Value, Error> {
    let email: String = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
        .bind(ctx.record_id())
        .fetch_one(ctx.conn())
        .await?;
    Ok(json!({ "email": email }))
}

#[events(event_log = EventLog, current_action_versions(register = 2))]
impl User {
    /// Registers a user.
    #[create]
    pub async fn register(ctx: &mut ActionCtx<'_>, input: Register) -> Result<User, Error> {
        sqlx::query("INSERT INTO users (id, email, created_at) VALUES ($1, $2, $3)")
            .bind(ctx.record_id())
            .bind(&input.email)
            .bind(ctx.now())
            .execute(ctx.conn())
            .await?;
        ctx.record_created(&json!({ "email": input.email })).await?;
        Ok(User {
            id: ctx.record_id(),
            email: input.email,
        })
    }

    /// Registers many users with one statement; replayed one by one through
    /// `register`.
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

    /// Changes a user's email.
    #[update]
    pub async fn change_email(ctx: &mut ActionCtx<'_>, input: ChangeEmail) -> Result<User, Error> {
        let old = user_row(ctx).await?;
        sqlx::query("UPDATE users SET email = $2 WHERE id = $1")
            .bind(ctx.record_id())
            .bind(&input.email)
            .execute(ctx.conn())
            .await?;
        ctx.record_updated(&old, &json!({ "email": input.email }))
            .await?;
        Ok(User {
            id: ctx.record_id(),
            email: input.email,
        })
    }

    /// Deletes a user.
    #[destroy]
    pub async fn delete(ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> {
        let old = user_row(ctx).await?;
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(ctx.record_id())
            .execute(ctx.conn())
            .await?;
        ctx.record_destroyed(&old).await?;
        Ok(())
    }
}

/// A project owned by a user.
#[derive(Debug)]
pub struct Project {
    /// The project's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
}

/// Input of `Project::create`.
#[derive(Serialize, Deserialize)]
pub struct NewProject {
    /// The owning user.
    pub owner: Uuid,
    /// The project's name.
    pub name: String,
}

/// Input of `Project::rename`.
#[derive(Serialize, Deserialize)]
pub struct Rename {
    /// The new name.
    pub name: String,
}

#[events(event_log = EventLog, name = "projects.project")]
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
        ctx.record_created(&json!({ "owner": input.owner, "name": input.name }))
            .await?;
        Ok(Project {
            id: ctx.record_id(),
            name: input.name,
        })
    }

    /// Renames a project.
    #[update]
    pub async fn rename(ctx: &mut ActionCtx<'_>, input: Rename) -> Result<Project, Error> {
        let old: String = sqlx::query_scalar("SELECT name FROM projects WHERE id = $1")
            .bind(ctx.record_id())
            .fetch_one(ctx.conn())
            .await?;
        sqlx::query("UPDATE projects SET name = $2, renames = renames + 1 WHERE id = $1")
            .bind(ctx.record_id())
            .bind(&input.name)
            .execute(ctx.conn())
            .await?;
        ctx.record_updated(&json!({ "name": old }), &json!({ "name": input.name }))
            .await?;
        Ok(Project {
            id: ctx.record_id(),
            name: input.name,
        })
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

/// The ids [`story`] created.
#[derive(Debug, Clone, Copy)]
pub struct Story {
    /// Ada's user id (deleted at the end).
    pub ada: Uuid,
    /// Grace's user id (her email changed).
    pub grace: Uuid,
    /// The project (renamed, then archived).
    pub project: Uuid,
    /// The admin who ran most actions.
    pub admin: Uuid,
}

/// The quickstart's actions: two registrations, a project created and
/// renamed, an import of three users in one call, an email change, the
/// project archived, a user deleted, and a manual entry.
pub async fn story(store: &PgEventStore<EventLog>) -> Result<Story, Error> {
    let admin = Admin { id: Uuid::now_v7() };
    let importer = SystemActor("csv-importer");
    let ada = User::register(Register {
        email: "ada@example.com".into(),
    })
    .actor(&admin)
    .metadata(json!({ "source": "admin-ui", "request_id": "req-7f3a" }))
    .run(store)
    .await?;
    let grace = User::register(Register {
        email: "grace@example.com".into(),
    })
    .actor(&importer)
    .metadata(json!({ "source": "import", "line": 2 }))
    .run(store)
    .await?;
    let project = Project::create(NewProject {
        owner: ada.id,
        name: "Analytical Engine".into(),
    })
    .actor(&admin)
    .run(store)
    .await?;
    Project::rename(
        project.id,
        Rename {
            name: "Difference Engine".into(),
        },
    )
    .actor(&admin)
    .run(store)
    .await?;
    User::register_many(
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
    .run(store)
    .await?;
    User::change_email(
        grace.id,
        ChangeEmail {
            email: "grace.hopper@example.com".into(),
        },
    )
    .actor(&admin)
    .run(store)
    .await?;
    Project::archive(project.id, ())
        .actor(&importer)
        .run(store)
        .await?;
    User::delete(ada.id, ())
        .actor(&admin)
        .metadata(json!({ "reason": "requested erasure" }))
        .run(store)
        .await?;
    store
        .audit()
        .track(
            events_core::audit::ManualEntry::new("login.failed")
                .metadata(json!({ "email": "mallory@example.com" })),
        )
        .await?;
    Ok(Story {
        ada: ada.id,
        grace: grace.id,
        project: project.id,
        admin: admin.id,
    })
}

/// Registers `n` users (`user-<i>@example.com`, from `first`) in bulk calls of
/// 5,000: one event each, for a long replay.
pub async fn seed_users(store: &PgEventStore<EventLog>, first: u64, n: u64) -> Result<(), Error> {
    let importer = SystemActor("seed");
    let mut i = first;
    let end = first + n;
    while i < end {
        let upto = end.min(i + 5_000);
        User::register_many((i..upto).map(|k| Register {
            email: format!("user-{k}@example.com"),
        }))
        .actor(&importer)
        .run(store)
        .await?;
        i = upto;
    }
    Ok(())
}
