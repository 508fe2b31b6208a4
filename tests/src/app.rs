//! The design sketch as a working application: users and posts, admins and a
//! system actor, versioned actions and a replay override.

use std::sync::Mutex;

use events_core::{ActionCtx, Actor, BulkCtx, ClearRecords, Error, event_log, events};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

/// Clears the application tables before a replay.
pub struct ClearAll;

impl ClearRecords for ClearAll {
    async fn clear_records(conn: &mut PgConnection) -> Result<(), Error> {
        sqlx::query("DELETE FROM posts").execute(&mut *conn).await?;
        sqlx::query("DELETE FROM users").execute(&mut *conn).await?;
        Ok(())
    }
}

/// The application's event log.
#[event_log(
    clear_records_for_replay = ClearAll,
    primary_key_type = integer,
    record_id_type = uuid,
    advisory_lock_key_default = 2147483647,
    persist_actor_primary_key(user_id, Admin),
    persist_actor_primary_key(system_actor, SystemActor, attribute_type = string),
    replay_override(User, create, versions = [1], route_to(User, create_v1)),
)]
pub struct EventLog;

/// An administrator, recorded in `user_id`.
#[derive(Debug, Clone)]
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

/// A background process, recorded in `system_actor`.
#[derive(Debug, Clone)]
pub struct SystemActor(pub &'static str);

impl Actor for SystemActor {
    type PrimaryKey = String;
    fn primary_key(&self) -> String {
        self.0.to_owned()
    }
}

/// A user row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    /// Primary key, the record id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Creation time, from `ctx.now()`.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Input of `User::create` (version 2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateUser {
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
}

/// Input of the version-1 create, which had one `full_name` field.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateUserV1 {
    /// Full name; v1 had no email.
    pub full_name: String,
}

/// Input of `User::signup`: a user and their first post.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Signup {
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Title of the first post, published as a nested action.
    pub first_post: String,
    /// Keep the signup when the post fails (the post rolls back alone).
    pub tolerate_failed_post: bool,
}

/// Input of `User::update`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpdateUser {
    /// New display name.
    pub name: String,
}

/// How version 1 of `User.create` derived an email from a full name.
pub fn v1_email(full_name: &str) -> String {
    format!(
        "{}@unknown.invalid",
        full_name.to_lowercase().replace(' ', ".")
    )
}

/// Record ids whose `update` fails when replayed: lets a test break replay at a
/// chosen event.
pub static FAIL_ON_REPLAY: Mutex<Vec<Uuid>> = Mutex::new(Vec::new());

fn fails_on_replay(id: Uuid) -> bool {
    FAIL_ON_REPLAY
        .lock()
        .map(|f| f.contains(&id))
        .unwrap_or(false)
}

/// Record ids whose create ran its after-commit hook; tests look for their own ids.
pub static COMMITTED: Mutex<Vec<Uuid>> = Mutex::new(Vec::new());

/// True when the after-commit hook of the create of `id` ran.
pub fn after_commit_ran(id: Uuid) -> bool {
    after_commit_runs(id) > 0
}

/// How many times the after-commit hook of the create of `id` ran.
pub fn after_commit_runs(id: Uuid) -> usize {
    COMMITTED
        .lock()
        .map(|c| c.iter().filter(|x| **x == id).count())
        .unwrap_or(0)
}

#[events(
    event_log = EventLog,
    ignore_actions = [create_v1, touch],
    current_action_versions(create = 2, update = 3, destroy = 2),
)]
impl User {
    /// Creates a user.
    #[create]
    pub async fn create(ctx: &mut ActionCtx<'_>, input: CreateUser) -> Result<User, Error> {
        if input.name.is_empty() {
            // Fails after the event insert: proves the event rolls back with the state.
            return Err(Error::MalformedRow {
                column: "name".into(),
                message: "empty".into(),
            });
        }
        let user = Self::insert_user(ctx, input).await?;
        let id = user.id;
        ctx.after_action(move |conn| {
            Box::pin(async move {
                sqlx::query("INSERT INTO audit_side_effects (user_id) VALUES ($1)")
                    .bind(id)
                    .execute(conn)
                    .await?;
                Ok(())
            })
        });
        ctx.after_commit(async move {
            if let Ok(mut committed) = COMMITTED.lock() {
                committed.push(id);
            }
        });
        Ok(user)
    }

    /// Renames a user.
    #[update]
    pub async fn update(ctx: &mut ActionCtx<'_>, input: UpdateUser) -> Result<User, Error> {
        if ctx.is_replay() && fails_on_replay(ctx.record_id()) {
            return Err(Error::MalformedRow {
                column: "name".into(),
                message: "refused on replay by the test".into(),
            });
        }
        let user =
            sqlx::query_as::<_, User>("UPDATE users SET name = $2 WHERE id = $1 RETURNING *")
                .bind(ctx.record_id())
                .bind(&input.name)
                .fetch_one(ctx.conn())
                .await?;
        Ok(user)
    }

    /// Deletes a user.
    #[destroy]
    pub async fn destroy(ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> {
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(ctx.record_id())
            .execute(ctx.conn())
            .await?;
        Ok(())
    }

    /// The version-1 create, kept for replaying old events.
    #[create]
    async fn create_v1(ctx: &mut ActionCtx<'_>, input: CreateUserV1) -> Result<User, Error> {
        let email = format!(
            "{}@unknown.invalid",
            input.full_name.to_lowercase().replace(' ', ".")
        );
        Self::insert_user(
            ctx,
            CreateUser {
                name: input.full_name,
                email,
            },
        )
        .await
    }

    /// Creates a user and publishes their first post as a nested action.
    #[create]
    pub async fn signup(ctx: &mut ActionCtx<'_>, input: Signup) -> Result<User, Error> {
        let user = Self::insert_user(
            ctx,
            CreateUser {
                name: input.name,
                email: input.email,
            },
        )
        .await?;
        let post = Post::publish(PublishPost {
            author_id: user.id,
            title: input.first_post,
        })
        .run_in(ctx)
        .await;
        match post {
            Ok(_) => {}
            // Tolerated: the post rolled back to its savepoint; the signup goes on.
            Err(_) if input.tolerate_failed_post => {}
            Err(e) => return Err(e),
        }
        Ok(user)
    }

    /// Tries to run an action of another event log nested: refused.
    #[create]
    pub async fn create_counter_from_other_log(
        ctx: &mut ActionCtx<'_>,
        input: CreateUser,
    ) -> Result<User, Error> {
        let user = Self::insert_user(ctx, input).await?;
        crate::alt::Counter::open(crate::alt::Open { start: 0 })
            .record_id(1_i64)
            .run_in(ctx)
            .await?;
        Ok(user)
    }

    /// Bumps nothing; an ignored action that still runs in a transaction.
    #[update]
    pub async fn touch(ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> {
        sqlx::query("UPDATE users SET name = name WHERE id = $1")
            .bind(ctx.record_id())
            .execute(ctx.conn())
            .await?;
        Ok(())
    }

    /// The bulk form of an ignored action: no events, no locks; returns the
    /// event ids the context holds (none) and the advisory locks held.
    #[bulk(touch)]
    pub async fn touch_many(
        ctx: &mut BulkCtx<'_>,
        inputs: Vec<()>,
    ) -> Result<(usize, Vec<(i64, i64, i16)>), Error> {
        sqlx::query("UPDATE users SET name = name WHERE id = ANY($1)")
            .bind(ctx.record_ids())
            .execute(ctx.conn())
            .await?;
        assert_eq!(inputs.len(), ctx.record_ids().len());
        Ok((
            ctx.event_ids().len(),
            crate::held_advisory_locks(ctx.conn()).await?,
        ))
    }

    /// Creates many users in one statement: the bulk form of `create`, which
    /// replays each of its events.
    #[bulk(create)]
    pub async fn create_many(
        ctx: &mut BulkCtx<'_>,
        inputs: Vec<CreateUser>,
    ) -> Result<Vec<User>, Error> {
        if inputs.iter().any(|i| i.name.is_empty()) {
            // Fails after the events insert, as `create` does: nothing stays.
            return Err(Error::MalformedRow {
                column: "name".into(),
                message: "empty".into(),
            });
        }
        let users: Vec<User> = ctx
            .record_ids()
            .iter()
            .zip(inputs)
            .map(|(id, input)| User {
                id: *id,
                name: input.name,
                email: input.email,
                created_at: ctx.now(),
            })
            .collect();
        let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
        let emails: Vec<&str> = users.iter().map(|u| u.email.as_str()).collect();
        sqlx::query(
            "INSERT INTO users (id, name, email, created_at) \
             SELECT id, name, email, $4 FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(id, name, email)",
        )
        .bind(ctx.record_ids())
        .bind(&names)
        .bind(&emails)
        .bind(ctx.now())
        .execute(ctx.conn())
        .await?;
        Ok(users)
    }

    /// Renames many users in one statement: the bulk form of `update`. A record
    /// named twice ends with its last name, as running `update` in order would.
    #[bulk(update)]
    pub async fn rename_many(ctx: &mut BulkCtx<'_>, inputs: Vec<UpdateUser>) -> Result<u64, Error> {
        let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        let done = sqlx::query(
            "UPDATE users SET name = last.name FROM ( \
                 SELECT DISTINCT ON (id) id, name FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS u(id, name, ord) \
                 ORDER BY id, ord DESC) AS last \
             WHERE users.id = last.id",
        )
        .bind(ctx.record_ids())
        .bind(&names)
        .execute(ctx.conn())
        .await?;
        Ok(done.rows_affected())
    }

    /// Inserts the user row every create variant writes.
    async fn insert_user(ctx: &mut ActionCtx<'_>, input: CreateUser) -> Result<User, Error> {
        let user = User {
            id: ctx.record_id(),
            name: input.name,
            email: input.email,
            created_at: ctx.now(),
        };
        sqlx::query("INSERT INTO users (id, name, email, created_at) VALUES ($1, $2, $3, $4)")
            .bind(user.id)
            .bind(&user.name)
            .bind(&user.email)
            .bind(user.created_at)
            .execute(ctx.conn())
            .await?;
        Ok(user)
    }
}

/// A post row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Post {
    /// Primary key.
    pub id: Uuid,
    /// Author.
    pub author_id: Uuid,
    /// Title.
    pub title: String,
}

/// Input of `Post::publish`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishPost {
    /// Author.
    pub author_id: Uuid,
    /// Title.
    pub title: String,
}

#[events(event_log = EventLog, name = "blog.post")]
impl Post {
    /// Publishes a post.
    #[create]
    pub async fn publish(ctx: &mut ActionCtx<'_>, input: PublishPost) -> Result<Post, Error> {
        if input.title.is_empty() {
            return Err(Error::MalformedRow {
                column: "title".into(),
                message: "empty".into(),
            });
        }
        let post = Post {
            id: ctx.record_id(),
            author_id: input.author_id,
            title: input.title,
        };
        sqlx::query("INSERT INTO posts (id, author_id, title) VALUES ($1, $2, $3)")
            .bind(post.id)
            .bind(post.author_id)
            .bind(&post.title)
            .execute(ctx.conn())
            .await?;
        Ok(post)
    }

    /// Removes a post.
    #[destroy]
    pub async fn retract(ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> {
        sqlx::query("DELETE FROM posts WHERE id = $1")
            .bind(ctx.record_id())
            .execute(ctx.conn())
            .await?;
        Ok(())
    }
}

/// Reports the advisory locks its own transaction holds: what `pg_locks` shows
/// while an action runs.
pub struct LockProbe;

#[events(event_log = EventLog)]
impl LockProbe {
    /// Returns `(classid, objid, objsubid)` of each advisory lock held.
    #[create]
    pub async fn probe(ctx: &mut ActionCtx<'_>, _input: ()) -> Result<Vec<(i64, i64, i16)>, Error> {
        crate::held_advisory_locks(ctx.conn()).await
    }
}

/// A store for [`EventLog`] on `pool`, migrated, with the application tables.
pub async fn store(
    pool: &sqlx::PgPool,
) -> Result<events_postgres::PgEventStore<EventLog>, Box<dyn std::error::Error>> {
    let store = events_postgres::PgEventStore::<EventLog>::new(pool.clone());
    store.migrate().await?;
    create_tables(&mut *pool.acquire().await?).await?;
    Ok(store)
}

/// A create input for `name`, with an email derived from it.
pub fn create_input(name: &str) -> CreateUser {
    CreateUser {
        name: name.to_owned(),
        email: format!("{}@example.com", name.to_lowercase()),
    }
}

/// Creates the application tables.
pub async fn create_tables(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(
        "CREATE TABLE users (id uuid PRIMARY KEY, name text NOT NULL, email text NOT NULL, created_at timestamptz NOT NULL);
         CREATE TABLE posts (id uuid PRIMARY KEY, author_id uuid NOT NULL, title text NOT NULL);
         CREATE TABLE audit_side_effects (user_id uuid NOT NULL);",
    )
    .execute(conn)
    .await?;
    Ok(())
}
