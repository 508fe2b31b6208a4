//! Retention's part of the migration: the owner's `<table>_prune` function
//! and its batched form `<table>_prune_batch`, the replay horizon table and the
//! replay entry point `<table>_begin_replay`, with their privileges.

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
    pub(super) prune_batch_fn: &'a str,
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
        horizon,
        horizon_guards,
        prune_fn,
        prune_batch_fn,
        replay_fn,
        commit_fn,
        lock_name,
        ..
    } = *n;
    let (id_type, entry_param, entry_column, entry_value) = match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => ("bigint", "", "", ""),
        PrimaryKeyType::UuidV7 => ("uuid", ", entry_id uuid", "id, ", "entry_id, "),
    };
    let prune_args = prune_args::<L>();
    let prune_batch_args = prune_batch_args::<L>();
    let prune_signature = quote_literal(&format!("{prune_fn}({prune_args})"));
    let prune_batch_signature = quote_literal(&format!("{prune_batch_fn}({prune_batch_args})"));
    let replay_signature = quote_literal(&format!("{replay_fn}()"));
    let commit_signature = quote_literal(&format!("{commit_fn}()"));
    let delete_all = delete_with_changes(
        n,
        "occurred_at < cut AND (give_up_replay OR action_type = 'manual')",
    );
    let delete_batch = delete_with_changes(n, "id = ANY (ids)");
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
{delete_all}
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

-- Retention in bounded batches, for progress and interruption: the same deletion as
-- `{prune_fn}` (entries that occurred before `cutoff`, manual entries only unless
-- `give_up_replay`, with their changes and orphaned commit times; the horizon recorded
-- when action events go; the call recorded as the manual entry `audit.pruned`), limited
-- to the `max_rows` oldest, in the caller's transaction. The caller fixes the cutoff
-- once (it may not be in the future) and calls again while `out_more` is true; each
-- call that commits has deleted its batch and recorded it, whatever happens to the next.
CREATE OR REPLACE FUNCTION {prune_batch_fn}(cutoff timestamptz, give_up_replay boolean, max_rows integer{entry_param})
RETURNS TABLE (out_deleted bigint, out_deleted_actions bigint, out_more boolean, out_entry {id_type})
LANGUAGE plpgsql SECURITY DEFINER AS $events_prune_batch$
DECLARE
    ids {id_type}[];
    more boolean;
    n bigint;
    n_actions bigint;
    entry {id_type};
BEGIN
    IF cutoff IS NULL OR cutoff > now() THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('a prune cutoff cannot be after now() (%s), got %s', now(), coalesce(cutoff::text, 'NULL')),
            HINT = 'pass now() minus the retention period, fixed once for all the batches of a prune';
    END IF;
    IF max_rows IS NULL OR max_rows < 1 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('a prune batch size (max_rows) must be at least 1, got %s', coalesce(max_rows::text, 'NULL')),
            HINT = 'pass the most entries one batch may delete, such as 10000';
    END IF;
    -- The oldest first, one more than the batch to tell whether more remain. Each form
    -- reads its index in order and stops after max_rows + 1 entries: (action_type,
    -- occurred_at, id) for manual entries, (occurred_at, id) for all.
    IF give_up_replay THEN
        ids := ARRAY(SELECT id FROM {table} WHERE occurred_at < cutoff
                     ORDER BY occurred_at, id LIMIT max_rows::bigint + 1);
    ELSE
        ids := ARRAY(SELECT id FROM {table} WHERE action_type = 'manual' AND occurred_at < cutoff
                     ORDER BY occurred_at, id LIMIT max_rows::bigint + 1);
    END IF;
    more := cardinality(ids) > max_rows;
    ids := ids[1:max_rows];
    PERFORM set_config('events.allow_prune', 'on', true);
{delete_batch}
    PERFORM set_config('events.allow_prune', 'off', true);
    IF n_actions > 0 THEN
        INSERT INTO {horizon} (pruned_before, deleted_actions) VALUES (cutoff, n_actions);
    END IF;
    INSERT INTO {table} ({entry_column}action, action_type, data, metadata, version, occurred_at)
    VALUES ({entry_value}'audit.pruned', 'manual', '{{}}',
            jsonb_build_object('cutoff', cutoff, 'deleted', n, 'deleted_actions', n_actions,
                               'gave_up_replay', give_up_replay, 'batch_size', max_rows,
                               'more', more, 'mode', 'auto', 'module', 'audit'),
            1, clock_timestamp())
    RETURNING id INTO entry;
    RETURN QUERY SELECT n, n_actions, more, entry;
END;
$events_prune_batch$;

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
    FOREACH f IN ARRAY ARRAY[{prune_signature}::regprocedure, {prune_batch_signature}::regprocedure,
                             {replay_signature}::regprocedure, {commit_signature}::regprocedure]
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp', f, schema_name);
    END LOOP;
END
$events_pin$;
REVOKE ALL ON FUNCTION {prune_fn}({prune_args}) FROM PUBLIC;
REVOKE ALL ON FUNCTION {prune_batch_fn}({prune_batch_args}) FROM PUBLIC;
REVOKE ALL ON FUNCTION {replay_fn}() FROM PUBLIC;
"#
    )
}

/// The argument types of `<table>_prune`, as its signature names them: period
/// in milliseconds, give up replay (and the entry's id for `uuid_v7`).
pub(super) fn prune_args<L: EventLog>() -> &'static str {
    match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => "bigint, boolean",
        PrimaryKeyType::UuidV7 => "bigint, boolean, uuid",
    }
}

/// The argument types of `<table>_prune_batch`, as its signature names them:
/// cutoff, give up replay, batch size (and the entry's id for `uuid_v7`).
pub(super) fn prune_batch_args<L: EventLog>() -> &'static str {
    match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => "timestamptz, boolean, integer",
        PrimaryKeyType::UuidV7 => "timestamptz, boolean, integer, uuid",
    }
}

/// The deletion both prune functions run, as a PL/pgSQL statement: the events
/// matching `condition`, their changes, and the commit times of transactions
/// left without events; counts into `n` and `n_actions`.
fn delete_with_changes(n: &RetentionNames<'_>, condition: &str) -> String {
    let RetentionNames {
        table,
        changes,
        commits,
        ..
    } = *n;
    format!(
        r#"    WITH gone AS (
        DELETE FROM {table} WHERE {condition}
        RETURNING id, txid, action_type
    ), gone_changes AS (
        DELETE FROM {changes} ch USING gone WHERE ch.event_id = gone.id
    ), gone_commits AS (
        DELETE FROM {commits} c WHERE c.txid IN (SELECT txid FROM gone)
        AND NOT EXISTS (SELECT 1 FROM {table} e
                        WHERE e.txid = c.txid AND NOT EXISTS (SELECT 1 FROM gone g WHERE g.id = e.id))
    )
    SELECT count(*), count(*) FILTER (WHERE action_type <> 'manual') INTO n, n_actions FROM gone;"#
    )
}
