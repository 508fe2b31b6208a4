//! Presentation helpers for audit UIs: badge tones for actions and modes
//! (PhoenixKit's `action_badge_color` / `mode_badge_color`), and batched
//! resolution of the records and actors entries point at (PhoenixKit's
//! `resolve_resource_users` and the `:preload` option), one load per batch
//! instead of one per entry.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::AuditEntry;
use crate::{Error, Key};

/// The tone of a badge, from which a UI picks its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    /// Something came into being (`created`, `registered`, `added`).
    Success,
    /// Something changed (`updated`, `assigned`, `renamed`).
    Info,
    /// Something needs attention (`reset`, `suspended`, `disabled`).
    Warning,
    /// Something went away or failed (`deleted`, `revoked`, `failed`).
    Error,
    /// Anything else.
    Neutral,
}

impl Tone {
    /// The CSS class PhoenixKit's helpers return for this tone (daisyUI badges).
    ///
    /// ```
    /// use events_core::audit::{Tone, action_tone};
    /// assert_eq!(action_tone("post.deleted").badge_class(), "badge-error");
    /// assert_eq!(Tone::Neutral.badge_class(), "badge-ghost");
    /// ```
    pub const fn badge_class(self) -> &'static str {
        match self {
            Tone::Success => "badge-success",
            Tone::Info => "badge-info",
            Tone::Warning => "badge-warning",
            Tone::Error => "badge-error",
            Tone::Neutral => "badge-ghost",
        }
    }
}

fn verb_tone(verb: &str) -> Option<Tone> {
    Some(match verb {
        "create" | "created" | "register" | "registered" | "add" | "added" | "publish"
        | "published" | "confirm" | "confirmed" | "activate" | "activated" | "enable"
        | "enabled" | "restore" | "restored" | "signup" | "login" | "logged_in" | "approved"
        | "invited" | "joined" => Tone::Success,
        "update" | "updated" | "change" | "changed" | "edit" | "edited" | "assign" | "assigned"
        | "rename" | "renamed" | "move" | "moved" | "liked" | "followed" | "commented" | "sent" => {
            Tone::Info
        }
        "reset" | "suspend" | "suspended" | "disable" | "disabled" | "expired" | "locked"
        | "logout" | "logged_out" | "unassigned" | "warned" => Tone::Warning,
        "destroy" | "destroyed" | "delete" | "deleted" | "remove" | "removed" | "revoke"
        | "revoked" | "ban" | "banned" | "fail" | "failed" | "reject" | "rejected" | "pruned" => {
            Tone::Error
        }
        _ => return None,
    })
}

/// The badge tone of an action, from its verb: the last dotted segment
/// (`post.created` → `created`), else the last underscore word
/// (`admin_password_reset` → `reset`). Case-insensitive.
///
/// ```
/// use events_core::audit::{Tone, action_tone};
/// assert_eq!(action_tone("post.created"), Tone::Success);
/// assert_eq!(action_tone("role.assigned"), Tone::Info);
/// assert_eq!(action_tone("admin_password_reset"), Tone::Warning);
/// assert_eq!(action_tone("comment.liked"), Tone::Info);
/// assert_eq!(action_tone("User.destroy"), Tone::Error);
/// assert_eq!(action_tone("weird"), Tone::Neutral);
/// ```
pub fn action_tone(action: &str) -> Tone {
    let verb = action
        .rsplit('.')
        .next()
        .unwrap_or(action)
        .to_ascii_lowercase();
    verb_tone(&verb)
        .or_else(|| verb.rsplit('_').next().and_then(verb_tone))
        .unwrap_or(Tone::Neutral)
}

/// The badge tone of a mode (PhoenixKit's `mode_badge_color`): `auto` is
/// [`Tone::Info`], `manual` [`Tone::Warning`], anything else neutral.
///
/// ```
/// use events_core::audit::{Tone, mode_tone};
/// assert_eq!(mode_tone("manual"), Tone::Warning);
/// assert_eq!(mode_tone("auto").badge_class(), "badge-info");
/// ```
pub fn mode_tone(mode: &str) -> Tone {
    match mode.to_ascii_lowercase().as_str() {
        "auto" => Tone::Info,
        "manual" => Tone::Warning,
        _ => Tone::Neutral,
    }
}

/// The key a composite primary key (a junction row: Contember's `primaryKey`
/// with several elements) is stored as in a `string` record id: the JSON array
/// of its parts.
///
/// ```
/// use events_core::{Key, audit::composite_key};
/// assert_eq!(composite_key(["post-1", "tag-9"]), Key::from(r#"["post-1","tag-9"]"#));
/// ```
pub fn composite_key<I, S>(parts: I) -> Key
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let parts: Vec<serde_json::Value> = parts
        .into_iter()
        .map(|p| serde_json::Value::String(p.into()))
        .collect();
    Key::String(serde_json::Value::Array(parts).to_string())
}

/// Calls `load` once with the distinct `keys` (sorted) and maps its rows by key;
/// does not call it for no keys.
async fn resolve<T, F, Fut>(keys: BTreeSet<Key>, load: F) -> Result<HashMap<Key, T>, Error>
where
    F: FnOnce(Vec<Key>) -> Fut,
    Fut: Future<Output = Result<Vec<(Key, T)>, Error>>,
{
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(load(keys.into_iter().collect())
        .await?
        .into_iter()
        .collect())
}

/// PhoenixKit's `resolve_resource_users`, for any resource: the records of
/// `resource` that `entries` are about, loaded with one call of `load` (which
/// gets the distinct record ids and returns `(id, value)` rows), mapped by id.
///
/// ```ignore
/// let users = resolve_records(&page.entries, "User", |ids| async move {
///     let rows: Vec<(Uuid, String)> = sqlx::query_as("SELECT id, email FROM users WHERE id = ANY($1)")
///         .bind(ids.iter().filter_map(|k| match k { Key::Uuid(u) => Some(*u), _ => None }).collect::<Vec<_>>())
///         .fetch_all(&pool).await?;
///     Ok(rows.into_iter().map(|(id, email)| (Key::Uuid(id), email)).collect())
/// }).await?;
/// ```
pub async fn resolve_records<T, F, Fut>(
    entries: &[AuditEntry],
    resource: &str,
    load: F,
) -> Result<HashMap<Key, T>, Error>
where
    F: FnOnce(Vec<Key>) -> Fut,
    Fut: Future<Output = Result<Vec<(Key, T)>, Error>>,
{
    let keys = entries
        .iter()
        .filter(|e| e.resource.as_deref() == Some(resource))
        .filter_map(|e| e.record_id.clone())
        .collect();
    resolve(keys, load).await
}

/// PhoenixKit's `:preload` of the actor: the actors of `entries` recorded in
/// actor column `column`, loaded with one call of `load`, mapped by key.
///
/// ```ignore
/// let admins = resolve_actors(&entries, "user_id", |ids| load_admins(&pool, ids)).await?;
/// ```
pub async fn resolve_actors<T, F, Fut>(
    entries: &[AuditEntry],
    column: &str,
    load: F,
) -> Result<HashMap<Key, T>, Error>
where
    F: FnOnce(Vec<Key>) -> Fut,
    Fut: Future<Output = Result<Vec<(Key, T)>, Error>>,
{
    let keys = entries
        .iter()
        .filter_map(|e| e.actor.as_ref())
        .filter(|a| a.column == column)
        .map(|a| a.key.clone())
        .collect();
    resolve(keys, load).await
}
