//! The audit tests' own small application: an event log with a UUID actor
//! (`Member`, column `user_id`) and a string actor (`Service`, column `service`),
//! and a `project` resource whose actions record their changes.

use events_core::{ActionCtx, Actor, ClearRecords, Error, event_log, events};
use events_postgres::{AuditLog, PgEventStore};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Clears the projects before a replay.
pub struct ClearProjects;

impl ClearRecords for ClearProjects {
    async fn clear_records(conn: &mut PgConnection) -> Result<(), Error> {
        sqlx::query("DELETE FROM projects").execute(conn).await?;
        Ok(())
    }
}

/// The audit tests' event log.
#[event_log(
    clear_records_for_replay = ClearProjects,
    track_commit_time = true,
    persist_actor_primary_key(user_id, Member),
    persist_actor_primary_key(service, Service, attribute_type = string),
)]
pub struct Log;

/// A person, recorded in `user_id`.
#[derive(Debug, Clone, Copy)]
pub struct Member(pub Uuid);

impl Member {
    pub fn new() -> Self {
        Member(Uuid::now_v7())
    }
}

impl Actor for Member {
    type PrimaryKey = Uuid;
    fn primary_key(&self) -> Uuid {
        self.0
    }
}

/// A background process, recorded in `service`.
#[derive(Debug, Clone)]
pub struct Service(pub &'static str);

impl Actor for Service {
    type PrimaryKey = String;
    fn primary_key(&self) -> String {
        self.0.to_owned()
    }
}

/// A project row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Project {
    pub id: Uuid,
    pub name: String,
    pub status: String,
}

/// Input of `Project::create`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewProject {
    pub name: String,
}

/// Input of `Project::rename` and `Project::rename_recording_twice`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rename {
    pub name: String,
}

#[events(event_log = Log, name = "project")]
impl Project {
    /// Creates a project and records its new values.
    #[create]
    pub async fn create(ctx: &mut ActionCtx<'_>, input: NewProject) -> Result<Project, Error> {
        let project = Project {
            id: ctx.record_id(),
            name: input.name,
            status: "active".into(),
        };
        sqlx::query("INSERT INTO projects (id, name, status) VALUES ($1, $2, $3)")
            .bind(project.id)
            .bind(&project.name)
            .bind(&project.status)
            .execute(ctx.conn())
            .await?;
        ctx.record_created(&project).await?;
        Ok(project)
    }

    /// Renames a project and records old and changed values.
    #[update]
    pub async fn rename(ctx: &mut ActionCtx<'_>, input: Rename) -> Result<Project, Error> {
        let old: Project = sqlx::query_as("SELECT * FROM projects WHERE id = $1")
            .bind(ctx.record_id())
            .fetch_one(ctx.conn())
            .await?;
        let new: Project =
            sqlx::query_as("UPDATE projects SET name = $2 WHERE id = $1 RETURNING *")
                .bind(ctx.record_id())
                .bind(&input.name)
                .fetch_one(ctx.conn())
                .await?;
        ctx.record_updated(&old, &new).await?;
        Ok(new)
    }

    /// Records its changes twice: refused.
    #[update]
    pub async fn rename_recording_twice(
        ctx: &mut ActionCtx<'_>,
        input: Rename,
    ) -> Result<Project, Error> {
        let project = Self::rename_body_for_tests(ctx, input).await?;
        ctx.record_created(&project).await?;
        Ok(project)
    }

    /// Deletes a project and records its old values.
    #[destroy]
    pub async fn delete(ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> {
        let old: Project = sqlx::query_as("DELETE FROM projects WHERE id = $1 RETURNING *")
            .bind(ctx.record_id())
            .fetch_one(ctx.conn())
            .await?;
        ctx.record_destroyed(&old).await?;
        Ok(())
    }

    async fn rename_body_for_tests(
        ctx: &mut ActionCtx<'_>,
        input: Rename,
    ) -> Result<Project, Error> {
        let old: Project = sqlx::query_as("SELECT * FROM projects WHERE id = $1")
            .bind(ctx.record_id())
            .fetch_one(ctx.conn())
            .await?;
        let new: Project =
            sqlx::query_as("UPDATE projects SET name = $2 WHERE id = $1 RETURNING *")
                .bind(ctx.record_id())
                .bind(&input.name)
                .fetch_one(ctx.conn())
                .await?;
        ctx.record_updated(&old, &new).await?;
        Ok(new)
    }
}

/// The store and its audit log on a fresh database, with the projects table.
pub async fn setup(
    pool: &PgPool,
) -> Result<(PgEventStore<Log>, AuditLog<Log>), Box<dyn std::error::Error>> {
    let store = PgEventStore::<Log>::new(pool.clone());
    store.migrate().await?;
    sqlx::raw_sql(
        "CREATE TABLE projects (id uuid PRIMARY KEY, name text NOT NULL, status text NOT NULL)",
    )
    .execute(pool)
    .await?;
    let audit = store.audit();
    Ok((store, audit))
}

/// Creates a project named `name`.
pub async fn project(store: &PgEventStore<Log>, name: &str) -> Result<Project, Error> {
    Project::create(NewProject { name: name.into() })
        .run(store)
        .await
}

/// Actions of `entries`, in order.
pub fn actions(entries: &[events_core::audit::AuditEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.action.as_str()).collect()
}
