//! The audit log's part of the migration: the manual-entry columns and their
//! check, the changes and commit-time side tables with their guards, the
//! commit-time trigger and notifications, and the audit indexes.

use events_core::{EventLog, PrimaryKeyType};

use crate::sql::names::{
    Names, base_name, horizon_table_name, quote_ident, quote_literal, quote_qualified,
    truncate_ident,
};

use super::retention::{RetentionNames, retention_sql};
use crate::sql::names::fnv1a;

/// The audit part of the schema script: manual entries, the changes and commit
/// tables, the commit-time trigger and the audit indexes. Written to upgrade a
/// table created without it in place; see the [module docs](crate::schema).
pub(super) fn audit_migration_sql<L: EventLog>() -> String {
    let name = L::TABLE;
    let base = base_name(name);
    let table = quote_qualified(name);
    let table_literal = quote_literal(&table);
    let guard = quote_qualified(&format!("{name}_append_only"));
    let kinds = truncate_ident(&format!("{base}_kinds_check"));
    let kinds_ident = quote_ident(&kinds);
    let kinds_literal = quote_literal(&kinds);
    let changes_name = events_core::audit::changes_table(name);
    let changes = quote_qualified(&changes_name);
    let commits_name = events_core::audit::commits_table(name);
    let commits = quote_qualified(&commits_name);
    let horizon_name = horizon_table_name(name);
    let horizon = quote_qualified(&horizon_name);
    let commit_fn = quote_qualified(&format!("{name}_record_commit"));
    let commit_trigger = quote_ident(&format!("{base}_commit_time"));
    let first_fn = quote_qualified(&format!("{name}_first_in_transaction"));
    let Names {
        prune_fn,
        prune_batch_fn,
        replay_fn,
        ..
    } = Names::of(name);
    // A transaction-local setting per event table, named from a hash of the table
    // name so that any table name makes a valid setting name.
    let queued_setting = quote_literal(&format!(
        "events.commit_queued_{:016x}",
        fnv1a(name.bytes())
    ));
    let channel = quote_literal(&events_core::audit::notify_channel(name));
    let index = |suffix: &str| quote_ident(&format!("{base}_{suffix}_idx"));
    let side_guards = |side: &str, side_name: &str| {
        let side_base = base_name(side_name);
        let row = quote_ident(&format!("{side_base}_append_only_row"));
        let truncate = quote_ident(&format!("{side_base}_append_only_truncate"));
        format!(
            "DROP TRIGGER IF EXISTS {row} ON {side};\n\
             CREATE TRIGGER {row} BEFORE UPDATE OR DELETE ON {side}\n    \
             FOR EACH ROW EXECUTE FUNCTION {guard}();\n\
             DROP TRIGGER IF EXISTS {truncate} ON {side};\n\
             CREATE TRIGGER {truncate} BEFORE TRUNCATE ON {side}\n    \
             FOR EACH STATEMENT EXECUTE FUNCTION {guard}();\n"
        )
    };
    let changes_guards = side_guards(&changes, &changes_name);
    let commits_guards = side_guards(&commits, &commits_name);
    let horizon_guards = side_guards(&horizon, &horizon_name);
    let id = match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => "bigint",
        PrimaryKeyType::UuidV7 => "uuid",
    };
    let actor_indexes: String = L::ACTOR_COLUMNS
        .iter()
        .map(|actor| {
            let column = quote_ident(actor.name);
            format!(
                "-- One actor's entries by time.\n\
                 CREATE INDEX IF NOT EXISTS {} ON {table} ({column}, occurred_at, id) WHERE {column} IS NOT NULL;\n",
                index(&format!("{}_occurred_at", actor.name)),
            )
        })
        .collect();
    let action_index = index("action");
    let resource_index = index("resource_occurred_at");
    let kind_index = index("action_type");
    let tenant_index = index("tenant_occurred_at");
    let target_index = index("target");
    let request_index = index("request_id");
    let mode_index = index("mode");
    let module_index = index("module");
    let metadata_index = index("metadata");
    let stats = |key: &str| quote_qualified(&format!("{name}_{key}_stats"));
    let target_stats = stats("target_id");
    let request_stats = stats("request_id");
    let mode_stats = stats("mode");
    let module_stats = stats("module");
    let unchanged_index = quote_ident(&format!("{}_unchanged_idx", base_name(&changes_name)));
    let commits_index = quote_ident(&format!("{}_committed_at_idx", base_name(&commits_name)));
    // With `track_commit_time` the trigger records every writing transaction's
    // commit time (a row per transaction, a fifth of the write throughput of small
    // actions); without it, it is queued only in sessions that asked for
    // notifications, and only notifies.
    let (commit_fn_body, commit_when) = if L::TRACK_COMMIT_TIME {
        (
            format!(
                "    INSERT INTO {commits} (txid, committed_at) VALUES (NEW.txid, clock_timestamp())\n    \
                     ON CONFLICT (txid) DO NOTHING;\n    \
                 -- Announces the transaction on the audit channel when the session has\n    \
                 -- `events.notify = 'on'` (off by default: NOTIFY serializes commits).\n    \
                 IF FOUND AND current_setting('events.notify', true) = 'on' THEN\n        \
                     PERFORM pg_notify({channel}, NEW.txid::text);\n    \
                 END IF;"
            ),
            format!("{first_fn}()"),
        )
    } else {
        (
            format!(
                "    -- track_commit_time is off: only announces the transaction on the audit\n    \
                 -- channel, in sessions with `events.notify = 'on'` (see the WHEN clause).\n    \
                 PERFORM pg_notify({channel}, NEW.txid::text);"
            ),
            format!("current_setting('events.notify', true) = 'on' AND {first_fn}()"),
        )
    };
    let commit_fn_sql = format!(
        "CREATE OR REPLACE FUNCTION {commit_fn}() RETURNS trigger\n\
         LANGUAGE plpgsql SECURITY DEFINER AS $events_commit_time$\n\
         BEGIN\n\
         {commit_fn_body}\n    \
             RETURN NULL;\n\
         END;\n\
         $events_commit_time$;"
    );
    let create_commit_trigger = format!(
        "CREATE CONSTRAINT TRIGGER {commit_trigger} AFTER INSERT ON {table}\n    \
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ({commit_when})\n    \
         EXECUTE FUNCTION {commit_fn}();"
    );
    // Events written before the commits table existed get their last insert time,
    // once, when commit times are tracked.
    let backfill = if L::TRACK_COMMIT_TIME {
        format!(
            "INSERT INTO {commits} (txid, committed_at)\n\
             SELECT txid, max(recorded_at) FROM {table}\n\
             WHERE NOT EXISTS (SELECT 1 FROM {commits})\n\
             GROUP BY txid\n\
             ON CONFLICT (txid) DO NOTHING;\n"
        )
    } else {
        String::new()
    };

    let retention = retention_sql::<L>(&RetentionNames {
        table: &table,
        table_literal: &table_literal,
        changes: &changes,
        commits: &commits,
        horizon: &horizon,
        horizon_guards: &horizon_guards,
        prune_fn: &prune_fn,
        prune_batch_fn: &prune_batch_fn,
        replay_fn: &replay_fn,
        commit_fn: &commit_fn,
        lock_name: &quote_literal(name),
    });

    format!(
        r#"
-- Audit log (events_postgres::AuditLog). Upgrades tables created without it in place.

-- Manual entries: action_type 'manual', never replayed; resource and record_id are
-- optional for them only (the check below keeps them required for recorded actions).
ALTER TABLE {table} ALTER COLUMN resource DROP NOT NULL, ALTER COLUMN record_id DROP NOT NULL;
DO $events_audit_kinds$
DECLARE
    rel regclass := {table_literal}::regclass;
    kind smallint;
    old record;
BEGIN
    SELECT attnum INTO kind FROM pg_attribute WHERE attrelid = rel AND attname = 'action_type';
    -- The original check on action_type alone (create, update, destroy).
    FOR old IN SELECT conname FROM pg_constraint
               WHERE conrelid = rel AND contype = 'c' AND conkey = ARRAY[kind]
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', rel, old.conname);
    END LOOP;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = rel AND conname = {kinds_literal}) THEN
        ALTER TABLE {table} ADD CONSTRAINT {kinds_ident} CHECK (
            action_type IN ('create', 'update', 'destroy', 'manual')
            AND (action_type = 'manual' OR (resource IS NOT NULL AND record_id IS NOT NULL))
            AND (record_id IS NULL OR resource IS NOT NULL)
        ) NOT VALID;
        ALTER TABLE {table} VALIDATE CONSTRAINT {kinds_ident};
    END IF;
END
$events_audit_kinds$;

-- Recorded changes (ActionCtx::record_*, BulkCtx::record_all, manual entries' changes), one row per
-- event, written in the event's transaction; append-only like the events.
CREATE TABLE IF NOT EXISTS {changes} (
    event_id {id} PRIMARY KEY,
    old_values jsonb,
    new_values jsonb,
    diff_values jsonb,
    unchanged boolean NOT NULL DEFAULT false,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- hide_unchanged: NOT EXISTS (SELECT 1 FROM changes WHERE event_id = e.id AND unchanged).
CREATE INDEX IF NOT EXISTS {unchanged_index} ON {changes} (event_id) WHERE unchanged;
{changes_guards}
-- Commit time of every transaction that wrote events (Contember's appliedAt), written
-- by a deferred trigger as the transaction commits when `track_commit_time` is on;
-- append-only.
CREATE TABLE IF NOT EXISTS {commits} (
    txid xid8 PRIMARY KEY,
    committed_at timestamptz NOT NULL
);
-- Filtering and ordering by commit time (joined to the events on txid).
CREATE INDEX IF NOT EXISTS {commits_index} ON {commits} (committed_at, txid);
{commits_guards}{backfill}
-- Runs at COMMIT (deferred), once per transaction (see the trigger's WHEN below).
{commit_fn_sql}
-- True for the first event row a transaction inserts, false for the others: the
-- commit-time trigger is queued once per transaction, not once per row (a bulk call
-- inserts thousands). The setting is transaction-local and follows savepoints: when
-- the first row rolls back to a savepoint, so does the flag, and the next row queues.
CREATE OR REPLACE FUNCTION {first_fn}() RETURNS boolean
LANGUAGE sql VOLATILE AS $events_first_in_transaction$
    SELECT CASE WHEN current_setting({queued_setting}, true) = 'on' THEN false
                ELSE set_config({queued_setting}, 'on', true) = 'on' END
$events_first_in_transaction$;
DROP TRIGGER IF EXISTS {commit_trigger} ON {table};
{create_commit_trigger}

-- Action names: exact and prefix filters (byte ranges under COLLATE "C"), typeahead
-- and the distinct-actions facet (skip scans), by time.
CREATE INDEX IF NOT EXISTS {action_index} ON {table} ((action COLLATE "C"), occurred_at, id);
-- One resource's entries by time; the distinct-resources facet.
CREATE INDEX IF NOT EXISTS {resource_index} ON {table} (resource, occurred_at, id);
-- Entry kinds (create, update, destroy, manual) by time; the distinct-kinds facet.
CREATE INDEX IF NOT EXISTS {kind_index} ON {table} (action_type, occurred_at, id);
{actor_indexes}-- One tenant's entries by time.
CREATE INDEX IF NOT EXISTS {tenant_index} ON {table} (tenant, occurred_at, id) WHERE tenant IS NOT NULL;
-- Audit context kept in metadata keys: target, request id, mode and module.
CREATE INDEX IF NOT EXISTS {target_index} ON {table} ((metadata ->> 'target_id'), occurred_at, id)
    WHERE (metadata ->> 'target_id') IS NOT NULL;
CREATE INDEX IF NOT EXISTS {request_index} ON {table} ((metadata ->> 'request_id'), occurred_at, id)
    WHERE (metadata ->> 'request_id') IS NOT NULL;
CREATE INDEX IF NOT EXISTS {mode_index} ON {table} ((metadata ->> 'mode'))
    WHERE (metadata ->> 'mode') IS NOT NULL;
CREATE INDEX IF NOT EXISTS {module_index} ON {table} ((metadata ->> 'module'))
    WHERE (metadata ->> 'module') IS NOT NULL;
-- Metadata containment (metadata @> '{{..}}'), also the target kind filter.
CREATE INDEX IF NOT EXISTS {metadata_index} ON {table} USING gin (metadata jsonb_path_ops);
-- Statistics of the metadata keys: the planner ignores those of partial indexes, and
-- without them guesses that any target or request id matches 0.5% of the log.
CREATE STATISTICS IF NOT EXISTS {target_stats} ON ((metadata ->> 'target_id')) FROM {table};
CREATE STATISTICS IF NOT EXISTS {request_stats} ON ((metadata ->> 'request_id')) FROM {table};
CREATE STATISTICS IF NOT EXISTS {mode_stats} ON ((metadata ->> 'mode')) FROM {table};
CREATE STATISTICS IF NOT EXISTS {module_stats} ON ((metadata ->> 'module')) FROM {table};
{retention}"#
    )
}
