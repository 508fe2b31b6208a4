//! Retention's part of the migration: the owner's `<table>_prune` function,
//! the replay horizon table and the replay entry point `<table>_begin_replay`,
//! with their privileges.

use events_core::{EventLog, PrimaryKeyType};

use crate::sql::names::quote_literal;

/// The quoted names the retention and replay functions are built from.
pub(super) struct RetentionNames<'a> {
    pub(super) table: &'a str,
    pub(super) table_literal: &'a str,
    pub(super) changes: &'a str,
    pub(super) commits: &'a str,
    pub(super) horizon: &'a str,
    pub(super) horizon_guards: &'a str,
    pub(super) prune_fn: &'a str,
    pub(super) replay_fn: &'a str,
    pub(super) commit_fn: &'a str,
    /// The unquoted table name as a literal: the replay lock's key.
    pub(super) lock_name: &'a str,
}

/// Retention (the owner's prune function and the replay horizon it records) and
/// the replay lock function; see the [module docs](crate::schema).
pub(super) fn retention_sql<L: EventLog>(n: &RetentionNames<'_>) -> String {
    let RetentionNames {
        table,
        table_literal,
        changes,
        commits,
        horizon,
        horizon_guards,
        prune_fn,
        replay_fn,
        commit_fn,
        lock_name,
    } = *n;
    let (id_type, entry_param, entry_column, entry_value) = match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => ("bigint", "", "", ""),
        PrimaryKeyType::UuidV7 => ("uuid", ", entry_id uuid", "id, ", "entry_id, "),
    };
    let prune_args = match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => "bigint, boolean",
        PrimaryKeyType::UuidV7 => "bigint, boolean, uuid",
    };
    let prune_signature = quote_literal(&format!("{prune_fn}({prune_args})"));
    let replay_signature = quote_literal(&format!("{replay_fn}()"));
    let commit_signature = quote_literal(&format!("{commit_fn}()"));
    format!(
        r#"
-- Replay horizon: each prune that gave up replay before a point (deleting recorded
-- action events) leaves a row here; replay and its preflight refuse while one exists.
CREATE TABLE IF NOT EXISTS {horizon} (
    pruned_before timestamptz NOT NULL,
    pruned_at timestamptz NOT NULL DEFAULT now(),
    deleted_actions bigint NOT NULL
);
{horizon_guards}
-- Retention, the one path that deletes events: runs as the table's owner (SECURITY
-- DEFINER, search_path pinned below), deletes entries that occurred more than
-- `older_than_ms` ago (manual entries only, unless `give_up_replay`), with their
-- changes, records a replay horizon when it deleted action events, and records itself
-- as the manual entry `audit.pruned`, all in the caller's transaction.
CREATE OR REPLACE FUNCTION {prune_fn}(older_than_ms bigint, give_up_replay boolean{entry_param})
RETURNS TABLE (out_deleted bigint, out_deleted_actions bigint, out_cutoff timestamptz, out_entry {id_type})
LANGUAGE plpgsql SECURITY DEFINER AS $events_prune$
DECLARE
    cut timestamptz;
    n bigint;
    n_actions bigint;
    entry {id_type};
BEGIN
    IF older_than_ms IS NULL OR older_than_ms < 0 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a retention period cannot be negative';
    END IF;
    -- A period reaching past every representable time (over ~3,000 years) keeps all.
    cut := CASE WHEN older_than_ms > 100000000000000 THEN '-infinity'::timestamptz
                ELSE now() - make_interval(secs => older_than_ms / 1000.0) END;
    PERFORM set_config('events.allow_prune', 'on', true);
    WITH gone AS (
        DELETE FROM {table}
        WHERE occurred_at < cut AND (give_up_replay OR action_type = 'manual')
        RETURNING id, txid, action_type
    ), gone_changes AS (
        DELETE FROM {changes} ch USING gone WHERE ch.event_id = gone.id
    ), gone_commits AS (
        DELETE FROM {commits} c WHERE c.txid IN (SELECT txid FROM gone)
        AND NOT EXISTS (SELECT 1 FROM {table} e
                        WHERE e.txid = c.txid AND NOT EXISTS (SELECT 1 FROM gone g WHERE g.id = e.id))
    )
    SELECT count(*), count(*) FILTER (WHERE action_type <> 'manual') INTO n, n_actions FROM gone;
    PERFORM set_config('events.allow_prune', 'off', true);
    IF n_actions > 0 THEN
        INSERT INTO {horizon} (pruned_before, deleted_actions) VALUES (cut, n_actions);
    END IF;
    INSERT INTO {table} ({entry_column}action, action_type, data, metadata, version, occurred_at)
    VALUES ({entry_value}'audit.pruned', 'manual', '{{}}',
            jsonb_build_object('cutoff', cut, 'deleted', n, 'deleted_actions', n_actions,
                               'older_than_seconds', older_than_ms / 1000,
                               'gave_up_replay', give_up_replay, 'mode', 'auto', 'module', 'audit'),
            1, clock_timestamp())
    RETURNING id INTO entry;
    RETURN QUERY SELECT n, n_actions, CASE WHEN isfinite(cut) THEN cut END, entry;
END;
$events_prune$;

-- Replay's start: one replay at a time per log, across processes (a transaction-scoped
-- advisory lock; false when another replay holds it), then appends wait for the replay
-- (SHARE MODE, which the application role could not take itself).
CREATE OR REPLACE FUNCTION {replay_fn}() RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER AS $events_replay$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('events_postgres.replay'), hashtext({lock_name})) THEN
        RETURN false;
    END IF;
    LOCK TABLE {table} IN SHARE MODE;
    RETURN true;
END;
$events_replay$;

-- The owner's functions resolve names in the event table's schema only, whatever the
-- caller's search_path; and only the roles granted them may call them.
DO $events_pin$
DECLARE
    schema_name name := (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE c.oid = {table_literal}::regclass);
    f regprocedure;
BEGIN
    FOREACH f IN ARRAY ARRAY[{prune_signature}::regprocedure, {replay_signature}::regprocedure,
                             {commit_signature}::regprocedure]
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp', f, schema_name);
    END LOOP;
END
$events_pin$;
REVOKE ALL ON FUNCTION {prune_fn}({prune_args}) FROM PUBLIC;
REVOKE ALL ON FUNCTION {replay_fn}() FROM PUBLIC;
"#
    )
}
