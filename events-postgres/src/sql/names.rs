//! Names: every object an event log owns in the database, derived from its
//! table name in one place, and the quoting rules for identifiers and literals.
//!
//! An event log's table may be schema-qualified (`audit.trail`); the objects
//! derived from it (`audit.trail_changes`, `audit.trail_prune()`) live in the
//! same schema, while indexes, triggers and constraints, which PostgreSQL puts in
//! their table's schema, are named after the table's base name.

/// The quoted names of the objects of one event log that the store's
/// statements name. Built once per store from [`EventLog::TABLE`](events_core::EventLog::TABLE).
#[derive(Debug, Clone)]
pub(crate) struct Names {
    /// The event table.
    pub(crate) table: String,
    /// The changes side table.
    pub(crate) changes: String,
    /// The commit-time side table.
    pub(crate) commits: String,
    /// The chunked replay's checkpoint table.
    pub(crate) checkpoint: String,
    /// Where retention gave up replay.
    pub(crate) horizon: String,
    /// The checkpointed consumers' positions.
    pub(crate) consumers: String,
    /// The owner's retention function.
    pub(crate) prune_fn: String,
    /// The owner's retention function that deletes one bounded batch.
    pub(crate) prune_batch_fn: String,
    /// The function that starts a replay (lock, exclusion).
    pub(crate) replay_fn: String,
    /// The data subjects' wrapped keys.
    pub(crate) keys: String,
    /// The function an append holds (and creates) its subjects' keys with.
    pub(crate) use_keys_fn: String,
    /// The owner's function that erases a subject.
    pub(crate) erase_fn: String,
    /// The owner's function that re-wraps data keys.
    pub(crate) rewrap_fn: String,
}

impl Names {
    /// The names of the objects of event table `table`.
    pub(crate) fn of(table: &str) -> Names {
        Names {
            table: quote_qualified(table),
            changes: quote_qualified(&events_core::audit::changes_table(table)),
            commits: quote_qualified(&events_core::audit::commits_table(table)),
            checkpoint: quote_qualified(&checkpoint_table_name(table)),
            horizon: quote_qualified(&horizon_table_name(table)),
            consumers: quote_qualified(&format!("{table}_consumers")),
            prune_fn: quote_qualified(&prune_function_name(table)),
            prune_batch_fn: quote_qualified(&format!("{}_batch", prune_function_name(table))),
            replay_fn: quote_qualified(&replay_function_name(table)),
            keys: quote_qualified(&format!("{table}_subject_keys")),
            use_keys_fn: quote_qualified(&format!("{table}_use_keys")),
            erase_fn: quote_qualified(&format!("{table}_erase_subject")),
            rewrap_fn: quote_qualified(&format!("{table}_rewrap_keys")),
        }
    }
}

/// The table recording where retention gave up replay of `table`.
pub(crate) fn horizon_table_name(table: &str) -> String {
    format!("{table}_replay_horizon")
}

/// The owner's retention function of `table`.
pub(crate) fn prune_function_name(table: &str) -> String {
    format!("{table}_prune")
}

/// The function that starts a replay of `table` (lock, exclusion).
pub(crate) fn replay_function_name(table: &str) -> String {
    format!("{table}_begin_replay")
}

/// The table holding the checkpoint of a chunked replay of `table`.
pub(crate) fn checkpoint_table_name(table: &str) -> String {
    format!("{table}_replay_checkpoint")
}

/// 64-bit FNV-1a of `bytes`: a stable hash, the same in every process and
/// release (names derived from a table name; consumer group members).
pub(crate) fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Quotes an identifier for PostgreSQL: `events` becomes `"events"`, embedded
/// double quotes are doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a possibly schema-qualified name: `audit.trail` becomes
/// `"audit"."trail"`, `events` becomes `"events"`. Names derived from a table name
/// by appending a suffix (`audit.trail_changes`) stay in the table's schema.
pub(crate) fn quote_qualified(name: &str) -> String {
    match name.split_once('.') {
        Some((schema, rest)) => format!("{}.{}", quote_ident(schema), quote_ident(rest)),
        None => quote_ident(name),
    }
}

/// The table's name without its schema: what indexes, triggers and constraints,
/// which live in the table's schema, are named after.
pub(crate) fn base_name(name: &str) -> &str {
    name.split_once('.').map_or(name, |(_, rest)| rest)
}

/// Quotes a string literal for PostgreSQL: embedded single quotes are doubled.
pub(crate) fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// An identifier as PostgreSQL stores it: cut to 63 bytes, at a character boundary.
pub(crate) fn truncate_ident(name: &str) -> String {
    let mut end = name.len().min(63);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names_stay_in_the_tables_schema() {
        let names = Names::of("audit.trail");
        assert_eq!(names.table, r#""audit"."trail""#);
        assert_eq!(names.changes, r#""audit"."trail_changes""#);
        assert_eq!(names.prune_fn, r#""audit"."trail_prune""#);
        assert_eq!(names.prune_batch_fn, r#""audit"."trail_prune_batch""#);
        assert_eq!(Names::of("ev\"il").table, r#""ev""il""#);
        assert_eq!(base_name("audit.trail"), "trail");
        assert_eq!(truncate_ident(&"é".repeat(40)).len(), 62);
    }
}
