//! The application as an older build wrote it: `User.create` at version 1, with a
//! single `full_name` field. It shares the event table with [`crate::app`] through
//! its own event log type, as an old binary shares the database with a new one,
//! so tests can store genuine version-1 events for the current code to replay.

use events_core::{ActionCtx, Error, event_log, events};

use crate::app::{Admin, CreateUserV1, SystemActor};

/// The old build's view of the event log: same table, same columns.
#[event_log(
    persist_actor_primary_key(user_id, Admin),
    persist_actor_primary_key(system_actor, SystemActor, attribute_type = string),
)]
pub struct OldLog;

/// The old build's user resource.
pub struct OldUser;

#[events(event_log = OldLog, name = "User")]
impl OldUser {
    /// Version 1 of `User.create`: derives the email from the full name.
    #[create]
    pub async fn create(ctx: &mut ActionCtx<'_>, input: CreateUserV1) -> Result<uuid::Uuid, Error> {
        let email = crate::app::v1_email(&input.full_name);
        sqlx::query("INSERT INTO users (id, name, email, created_at) VALUES ($1, $2, $3, $4)")
            .bind(ctx.record_id())
            .bind(&input.full_name)
            .bind(email)
            .bind(ctx.now())
            .execute(ctx.conn())
            .await?;
        Ok(ctx.record_id())
    }
}
