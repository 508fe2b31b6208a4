//! The fixed texts of checkpointed consumers ([`crate::consume`]), built once
//! per store like the others.

use std::sync::Arc;

use events_core::{EventLog, PrimaryKeyType};

use super::names::Names;

/// What the consumer runner, its status and its rebuild run.
#[derive(Debug)]
pub(crate) struct ConsumerStatements {
    /// A member's position: `$1` name, `$2` member. Columns `last_txid`
    /// (text), `last_id`.
    pub(crate) position: Arc<str>,
    /// Moves a member's position, in the handled events' transaction, from
    /// where the runner found it (compare and set): `$1` name, `$2` member,
    /// `$3` members, `$4` txid (text), `$5` id (text), `$6`/`$7` the expected
    /// txid/id (null before the first save), `$8` events handled. Column
    /// `saved` is 0 when the position had moved (another runner, a reset).
    pub(crate) save: Arc<str>,
    /// Forgets every member's position: `$1` name.
    pub(crate) reset: Arc<str>,
    /// Forgets one member's position: `$1` name, `$2` member.
    pub(crate) reset_member: Arc<str>,
    /// Every member's position, handled count and lag (events after its
    /// position below the snapshot's `xmin`, and the oldest one's time).
    pub(crate) status: Arc<str>,
    /// The last event every reader can see now (`txid` as text, `id`) and
    /// how many events come up to it (`total`): where a rebuild ends.
    pub(crate) log_end: Arc<str>,
}

impl ConsumerStatements {
    pub(crate) fn new<L: EventLog>(names: &Names) -> Self {
        let (consumers, table) = (&names.consumers, &names.table);
        let id = match L::PRIMARY_KEY_TYPE {
            PrimaryKeyType::Integer => "int8",
            PrimaryKeyType::UuidV7 => "uuid",
        };
        let committed = "e.action_type <> 'manual' \
                         AND e.txid < pg_snapshot_xmin(pg_current_snapshot())";
        ConsumerStatements {
            position: format!(
                "SELECT last_txid::text AS last_txid, last_id FROM {consumers} \
                 WHERE name = $1 AND member = $2"
            )
            .into(),
            save: format!(
                "WITH upd AS (UPDATE {consumers} SET members = $3, \
                 last_txid = $4::text::xid8, last_id = $5, handled = handled + $8, \
                 updated_at = now() WHERE name = $1 AND member = $2 \
                 AND last_txid IS NOT DISTINCT FROM $6::text::xid8 \
                 AND last_id IS NOT DISTINCT FROM $7 RETURNING 1), \
                 ins AS (INSERT INTO {consumers} \
                 (name, member, members, last_txid, last_id, handled) \
                 SELECT $1, $2, $3, $4::text::xid8, $5, $8 WHERE $6::text IS NULL \
                 ON CONFLICT (name, member) DO NOTHING RETURNING 1) \
                 SELECT (SELECT count(*) FROM upd) + (SELECT count(*) FROM ins) AS saved"
            )
            .into(),
            reset: format!("DELETE FROM {consumers} WHERE name = $1").into(),
            reset_member: format!("DELETE FROM {consumers} WHERE name = $1 AND member = $2").into(),
            status: format!(
                "SELECT c.name, c.member, c.members, c.last_txid::text AS last_txid, c.last_id, \
                 c.handled, c.updated_at, lag.n, lag.oldest FROM {consumers} c, \
                 LATERAL (SELECT count(*) AS n, min(e.occurred_at) AS oldest FROM {table} e \
                 WHERE {committed} AND (c.last_txid IS NULL \
                 OR (e.txid, e.id) > (c.last_txid, c.last_id::{id}))) lag \
                 ORDER BY c.name, c.member"
            )
            .into(),
            log_end: format!(
                "SELECT e.txid::text AS txid, e.id, (SELECT count(*) FROM {table} c \
                 WHERE c.action_type <> 'manual' AND (c.txid, c.id) <= (e.txid, e.id)) AS total \
                 FROM {table} e WHERE {committed} ORDER BY e.txid DESC, e.id DESC LIMIT 1"
            )
            .into(),
        }
    }
}
