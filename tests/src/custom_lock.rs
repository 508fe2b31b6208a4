//! A custom advisory lock key generator and string record ids.

use events_core::{
    ActionCtx, AdvisoryLockKeyGenerator, Error, LockKey, LockKeyInput, event_log, events,
};
use serde::{Deserialize, Serialize};

/// Locks per record: the key is the record id's length times 1000 plus a
/// resource tag, simple enough for a test to predict.
pub struct LengthKeys;

impl AdvisoryLockKeyGenerator for LengthKeys {
    fn generate_key(input: &LockKeyInput<'_>, _default: LockKey) -> Result<LockKey, Error> {
        Ok(LockKey::Single(
            input.record_id.to_string().len() as i64 * 1000 + 7,
        ))
    }
}

/// Event log with a custom generator and string record ids.
#[event_log(record_id_type = string, advisory_lock_key_generator = LengthKeys, table = "tagged_events")]
pub struct TaggedLog;

/// A tag named by a string id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag;

/// Input of `Tag::add`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddTag {
    /// Label.
    pub label: String,
}

#[events(event_log = TaggedLog)]
impl Tag {
    /// Adds a tag.
    #[create]
    pub async fn add(ctx: &mut ActionCtx<'_, String>, input: AddTag) -> Result<String, Error> {
        sqlx::query("INSERT INTO tags (id, label) VALUES ($1, $2)")
            .bind(ctx.record_id())
            .bind(&input.label)
            .execute(ctx.conn())
            .await?;
        Ok(ctx.record_id())
    }

    /// Returns `(classid, objid, objsubid)` of each advisory lock held.
    #[create]
    pub async fn probe(
        ctx: &mut ActionCtx<'_, String>,
        _input: (),
    ) -> Result<Vec<(i64, i64, i16)>, Error> {
        crate::held_advisory_locks(ctx.conn()).await
    }
}

/// Creates the `tags` table.
pub async fn create_tables(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("CREATE TABLE tags (id text PRIMARY KEY, label text NOT NULL)")
        .execute(conn)
        .await?;
    Ok(())
}
