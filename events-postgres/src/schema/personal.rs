//! Personal data's part of the migration: the keys table `<table>_subject_keys`
//! (each data subject's data key, wrapped by a master key that never enters the
//! database), its guard, and the owner's functions that touch it:
//! `<table>_use_keys` (an append holds its subjects' keys, creating new ones),
//! `<table>_erase_subject` (erasure, recorded as `personal.erased`) and
//! `<table>_rewrap_keys` (master key rotation).
//!
//! **Why functions.** The application role may read the wrapped keys but
//! neither change nor delete them: erasure and rotation run as the owner, who
//! alone passes the guard (with a transaction-local flag, as retention does).
//! And an append must be sure, in its own statement, that the key it encrypted
//! with is the stored one: an append with a new subject's key calls
//! `<table>_use_keys`, which inserts the new keys, then (in a statement of its
//! own, so with a fresh snapshot) answers whether every key it was given is
//! there with the wrapped bytes the writer used; an append whose keys are all
//! stored already checks them with a lookup of its own (see
//! `Statements::keyed`). A write that comes after an erasure finds the key
//! gone, inserts nothing, and encrypts again under a new key: every write
//! accepted after an erasure is readable. A write whose check ran before an
//! erasure committed is ordered before it in the log (its transaction id is
//! older) and is erased with the rest of the subject's values.

use events_core::{EventLog, PrimaryKeyType};

use crate::sql::names::{Names, base_name, quote_ident, quote_literal};

/// The argument types of `<table>_erase_subject`, as its signature names them.
pub(super) fn erase_args<L: EventLog>() -> &'static str {
    match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => "text",
        PrimaryKeyType::UuidV7 => "text, uuid",
    }
}

/// The argument types of `<table>_use_keys`.
pub(super) const USE_KEYS_ARGS: &str = "text[], bytea[], text[], boolean[]";

/// The argument types of `<table>_rewrap_keys`.
pub(super) fn rewrap_args<L: EventLog>() -> &'static str {
    match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => "text[], bytea[], bytea[], text[]",
        PrimaryKeyType::UuidV7 => "text[], bytea[], bytea[], text[], uuid",
    }
}

/// The keys table, its guard and the owner's functions; see the
/// [module docs](self).
pub(super) fn personal_sql<L: EventLog>() -> String {
    let name = L::TABLE;
    let Names {
        table,
        keys,
        use_keys_fn,
        erase_fn,
        rewrap_fn,
        ..
    } = Names::of(name);
    let keys_base = base_name(&format!("{name}_subject_keys")).to_owned();
    let keys_guard = super::owner_guard_sql(&super::OwnerGuard {
        function: &crate::sql::names::quote_qualified(&format!("{name}_keys_guard")),
        tag: "events_keys_guard",
        table: &keys,
        row_trigger: &quote_ident(&format!("{keys_base}_guard_row")),
        truncate_trigger: &quote_ident(&format!("{keys_base}_guard_truncate")),
        passes: "TG_OP IN ('UPDATE', 'DELETE')",
        flag: "events.allow_keys",
        message: "%s on data key table %I.%I rejected: data keys change only by erasure and rotation",
        hint: "erase a subject with its erase function, rotate with its rewrap function",
    });
    let table_literal = quote_literal(&table);
    let (id_type, entry_param, entry_column, entry_value) = match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => ("bigint", "", "", ""),
        PrimaryKeyType::UuidV7 => ("uuid", ", entry_id uuid", "id, ", "entry_id, "),
    };
    let erase_args = erase_args::<L>();
    let signatures = [
        format!("{use_keys_fn}({USE_KEYS_ARGS})"),
        format!("{erase_fn}({erase_args})"),
        format!("{rewrap_fn}({})", rewrap_args::<L>()),
    ]
    .map(|s| format!("{}::regprocedure", quote_literal(&s)))
    .join(", ");
    // A uuid_v7 log's rotation takes the entry id it records itself under; the
    // signature without it (earlier migrations) goes. An integer log's keeps its
    // signature, so re-running the migration keeps its grants.
    let drop_old_rewrap = match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => String::new(),
        PrimaryKeyType::UuidV7 => {
            format!("DROP FUNCTION IF EXISTS {rewrap_fn}(text[], bytea[], bytea[], text[]);\n")
        }
    };
    format!(
        r#"
-- Personal data: each data subject's data key, wrapped by a master key that never
-- enters the database. Deleting a subject's row (erasure) makes every value encrypted
-- for it unreadable, in this database and in every copy of it.
CREATE TABLE IF NOT EXISTS {keys} (
    subject text PRIMARY KEY,
    wrapped_key bytea NOT NULL,
    master_key_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    rotated_at timestamptz
);

-- Data keys change only through the owner's erasure and rotation functions, which
-- raise the transaction-local flag `events.allow_keys`: any role can set it, only the
-- owner passes with it. TRUNCATE never passes.
{keys_guard}
-- An append's keys: inserts the fresh ones (a key a writer already stored is never
-- inserted again: that would bring back a key erased since), then answers whether each
-- is stored with the given wrapped bytes. False: another writer stored another key
-- first, or the subject was erased; the append then inserts nothing and the writer
-- encrypts again.
DROP FUNCTION IF EXISTS {use_keys_fn}(text[], bytea[], text[]);
CREATE OR REPLACE FUNCTION {use_keys_fn}(subjects text[], wrapped bytea[], master_ids text[], fresh boolean[])
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER AS $events_use_keys$
DECLARE
    held bigint;
BEGIN
    INSERT INTO {keys} (subject, wrapped_key, master_key_id)
    SELECT u.s, u.w, u.m FROM unnest(subjects, wrapped, master_ids, fresh) AS u(s, w, m, f)
    WHERE u.f
    ON CONFLICT (subject) DO NOTHING;
    -- By the primary key (a join with the unnested arrays is planned as a scan of
    -- the whole table). One row per subject, and wrapped keys are random and bound
    -- to their subject: a row matches only its own subject's pair.
    SELECT count(*) INTO held FROM {keys} k
    WHERE k.subject = ANY(subjects) AND k.wrapped_key = ANY(wrapped);
    RETURN held = cardinality(subjects);
END;
$events_use_keys$;

-- Erasure: deletes the subject's data key, and
-- records itself as the manual entry `personal.erased`, naming the subject only.
CREATE OR REPLACE FUNCTION {erase_fn}(subject_id text{entry_param})
RETURNS TABLE (out_erased boolean, out_entry {id_type})
LANGUAGE plpgsql SECURITY DEFINER AS $events_erase$
DECLARE
    n bigint;
    entry {id_type};
BEGIN
    PERFORM set_config('events.allow_keys', 'on', true);
    DELETE FROM {keys} WHERE subject = subject_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM set_config('events.allow_keys', 'off', true);
    INSERT INTO {table} ({entry_column}action, action_type, data, metadata, version, occurred_at)
    VALUES ({entry_value}'personal.erased', 'manual', '{{}}',
            jsonb_build_object('target_type', 'subject', 'target_id', subject_id, 'erased', n > 0,
                               'mode', 'auto', 'module', 'personal'),
            1, clock_timestamp())
    RETURNING id INTO entry;
    RETURN QUERY SELECT n > 0, entry;
END;
$events_erase$;

-- Master key rotation: replaces wrapped keys that still hold the given old bytes.
-- Recorded as the manual entry `personal.keys_rewrapped` (how many keys, to which
-- master key ids; no key material), as erasure is: replacing wrapped keys is as
-- destructive as deleting them.
{drop_old_rewrap}CREATE OR REPLACE FUNCTION {rewrap_fn}(subjects text[], old_wrapped bytea[], new_wrapped bytea[], master_ids text[]{entry_param})
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER AS $events_rewrap$
DECLARE
    n bigint;
BEGIN
    PERFORM set_config('events.allow_keys', 'on', true);
    UPDATE {keys} k SET wrapped_key = u.nw, master_key_id = u.m, rotated_at = now()
    FROM unnest(subjects, old_wrapped, new_wrapped, master_ids) AS u(s, ow, nw, m)
    WHERE k.subject = u.s AND k.wrapped_key = u.ow;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM set_config('events.allow_keys', 'off', true);
    INSERT INTO {table} ({entry_column}action, action_type, data, metadata, version, occurred_at)
    VALUES ({entry_value}'personal.keys_rewrapped', 'manual', '{{}}',
            jsonb_build_object('rewrapped', n,
                               'master_key_ids', (SELECT coalesce(jsonb_agg(DISTINCT m), '[]'::jsonb)
                                                  FROM unnest(master_ids) AS m),
                               'mode', 'auto', 'module', 'personal'),
            1, clock_timestamp());
    RETURN n;
END;
$events_rewrap$;

DO $events_pin_keys$
DECLARE
    schema_name name := (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE c.oid = {table_literal}::regclass);
    f regprocedure;
BEGIN
    FOREACH f IN ARRAY ARRAY[{signatures}]
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp', f, schema_name);
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$events_pin_keys$;
"#
    )
}
