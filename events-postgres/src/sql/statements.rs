//! The fixed texts of one event log's store, built once when the store is
//! created: the appends, the readers, retention and replay's entry points.
//!
//! Every text is fixed for a given event log: actor columns are always all bound
//! (`NULL` for the unused ones), so sqlx prepares each statement once per
//! connection and reuses it from its statement cache.

use std::sync::Arc;

use events_core::{EventLog, PrimaryKeyType};

use super::columns::{Column, columns};
use super::consumers::ConsumerStatements;
use super::names::{Names, quote_ident};
use crate::audit::AuditSql;
use crate::personal::PersonalSql;
use crate::schema::migration_sql;

/// Columns every event `SELECT` returns, in this order; the actor columns follow.
pub(crate) const EVENT_COLUMNS: [&str; 10] = [
    "id",
    "resource",
    "record_id",
    "action",
    "action_type",
    "data",
    "metadata",
    "version",
    "tenant",
    "occurred_at",
];

/// The SQL of one event log, built once when its store is created.
#[derive(Debug)]
pub(crate) struct Statements {
    /// The append, one statement and one round trip: the advisory lock in a CTE,
    /// then `INSERT ... SELECT ... FROM lock RETURNING id, occurred_at`. Parameters:
    /// (`id` for `uuid_v7`), resource, record_id, action, action_type, data,
    /// metadata, version, tenant, every actor column, then the lock key (one
    /// `int8`), then the deadline in milliseconds (`int8`, `NULL` for none; see
    /// `deadline_cte`). The row is produced by scanning the lock, so the lock is granted
    /// before the insert and before `occurred_at = clock_timestamp()` is read.
    pub(crate) insert_single: Arc<str>,
    /// The same with a two-`int4` lock key (the last two parameters).
    pub(crate) insert_pair: Arc<str>,
    /// The insert without a lock (no lock parameter).
    pub(crate) insert_unlocked: Arc<str>,
    /// The append of many events alike but for their record ids and data, one
    /// statement: every lock (ascending, distinct), then one event per element of
    /// the `unnest`ed arrays, in array order, with one `occurred_at` read after the
    /// last lock. Parameters in [`Statements::columns`] order (`shared` ones a
    /// value, the others an array), then the single lock keys (`int8[]`) and the
    /// two halves of the pair keys (`int4[]`, `int4[]`). Returns the ids and the
    /// shared `occurred_at`.
    pub(crate) insert_many: Arc<str>,
    /// The same with every column an array: events of different actions, actors,
    /// metadata or tenants.
    pub(crate) insert_many_rows: Arc<str>,
    /// The five appends again for events with encrypted personal data.
    pub(crate) keyed: KeyedInserts,
    /// First page of the log: `$1` limit.
    pub(crate) list_first: Arc<str>,
    /// Page after a cursor: `$1` cursor id, `$2` limit.
    pub(crate) list_after: Arc<str>,
    /// One record's events: `$1` resource, `$2` record id.
    pub(crate) for_record: Arc<str>,
    /// The schema script of [`migration_sql`].
    pub(crate) migration: Arc<str>,
    /// `SELECT <event columns>`, for queries that add columns before `FROM`.
    pub(crate) select_list: String,
    /// The names of the log's objects, quoted.
    pub(crate) names: Names,
    /// The columns the appends write, in parameter order: the texts above were
    /// built from it, and the binders read it.
    pub(crate) columns: Vec<Column>,
    /// Starts a replay: the replay lock (`false` when another replay holds it) and
    /// the table lock against appends.
    pub(crate) begin_replay: Arc<str>,
    /// The latest replay horizon, if retention ever gave up replay.
    pub(crate) horizon: Arc<str>,
    /// The position (`txid` as text, `id`) of the last event in replay order.
    pub(crate) last_position: Arc<str>,
    /// The position of event `$1`.
    pub(crate) position_of: Arc<str>,
    /// The chunked replay's checkpoint row, if one exists.
    pub(crate) load_checkpoint: Arc<str>,
    /// Writes the checkpoint row: `$1` selection, `$2`/`$3` last position, `$4`/`$5`
    /// the fixed upper bound, `$6` applied, `$7` total.
    pub(crate) save_checkpoint: Arc<str>,
    /// Removes the checkpoint row.
    pub(crate) delete_checkpoint: Arc<str>,
    /// The recorded changes of events, one row per element of the arrays:
    /// `$1` event ids (the log's id type), `$2` old, `$3` new, `$4` diff values
    /// (`jsonb[]`), `$5` the `unchanged` flags.
    pub(crate) insert_changes: Arc<str>,
    /// The checkpointed consumers' texts.
    pub(crate) consumers: ConsumerStatements,
    /// The audit log's texts ([`AuditLog`](crate::AuditLog)).
    pub(crate) audit: AuditSql,
    /// Whether the appends turn notifications on for their transaction.
    pub(crate) notify: bool,
    /// Personal data's texts: keys, erasure, rotation.
    pub(crate) personal: PersonalSql,
    /// Retention: `$1` period in milliseconds, `$2` give up replay, (`$3` the
    /// entry's id for `uuid_v7`). Returns deleted, deleted action events, cutoff
    /// (`NULL` for before all time) and the `audit.pruned` entry's id.
    pub(crate) prune: Arc<str>,
    /// A batched prune's cutoff, fixed once by the database clock: `$1` period in
    /// milliseconds. Returns `cutoff`, `NULL` for before all time (the rule of
    /// [`prune_cutoff_sql`]).
    pub(crate) prune_cutoff: Arc<str>,
    /// One batch of a batched prune: `$1` cutoff (`NULL` for before all time), `$2`
    /// give up replay, `$3` most entries to delete, (`$4` the entry's id for
    /// `uuid_v7`). Returns deleted, deleted action events, whether more remain
    /// and the `audit.pruned` entry's id.
    pub(crate) prune_batch: Arc<str>,
}

/// The appends of events with encrypted personal data: each as its plain
/// form, and after the lock, the check of its keys over four more parameters
/// (after the deadline: subjects, wrapped keys, master key ids, fresh; see
/// `keys_cte`), which stores the fresh keys. The insert runs only when every
/// key is the stored one; the statement always returns a row
/// per event, or one row with a `NULL` id: `id, occurred_at, held`.
#[derive(Debug)]
pub(crate) struct KeyedInserts {
    pub(crate) single: Arc<str>,
    pub(crate) pair: Arc<str>,
    pub(crate) unlocked: Arc<str>,
    pub(crate) many: Arc<str>,
    pub(crate) many_rows: Arc<str>,
}

/// The `keys` CTE of a keyed append reading `from`, its arrays from parameter
/// `$first` on (subjects, wrapped keys, master key ids, fresh): whether every
/// key is the stored one. With a fresh key among them, the owner's
/// `<table>_use_keys` stores it and checks every key; without (every key
/// already stored: the common case, a cached subject), a lookup by the keys'
/// primary key checks them, with no function call (measured: the call cost a
/// quarter of a small action's throughput). Both look keys up with
/// `subject = ANY(..) AND wrapped_key = ANY(..)`, by the primary key: a join
/// with the `unnest`ed arrays was planned as a scan of the whole keys table,
/// whose cost grew with the number of subjects. (Each subject has one row, and
/// wrapped keys are random and bound to their subject, so no row matches
/// another subject's wrapped key: the count is that of the given pairs.)
/// An erasure that commits after the check and before the append's commit
/// leaves the append's values erased with the rest of the subject's: the
/// append's transaction is the older, and orders before the erasure in the
/// log.
fn keys_cte(use_keys_fn: &str, keys: &str, from: &str, first: usize) -> String {
    let [s, w, m, f] = [first, first + 1, first + 2, first + 3];
    format!(
        "keys AS (SELECT CASE WHEN true = ANY(${f}::boolean[]) \
         THEN {use_keys_fn}(${s}::text[], ${w}::bytea[], ${m}::text[], ${f}::boolean[]) \
         ELSE (SELECT count(*) FROM {keys} k WHERE k.subject = ANY(${s}::text[]) \
         AND k.wrapped_key = ANY(${w}::bytea[])) = cardinality(${s}::text[]) END \
         AS held FROM {from})"
    )
}

/// A keyed append's last part: `insert` (an `INSERT .. RETURNING id,
/// occurred_at` reading `keys`) as a CTE, and one row at least.
const KEYED_RESULT: &str =
    "SELECT ins.id, ins.occurred_at, keys.held FROM keys LEFT JOIN ins ON true";

impl Statements {
    pub(crate) fn new<L: EventLog>(notify: bool) -> Self {
        let names = Names::of(L::TABLE);
        let table = names.table.clone();
        let checkpoint_table = &names.checkpoint;
        // While a chunked replay is unfinished (its checkpoint row exists) the state
        // is half rebuilt: appends write nothing, and the store reports it. One
        // scan of a table that is empty otherwise, in the same statement.
        let no_chunked_replay = format!("NOT EXISTS (SELECT FROM {checkpoint_table})");
        let actors = L::ACTOR_COLUMNS.iter().map(|c| quote_ident(c.name));
        let columns = columns::<L>();

        // Every column but `occurred_at`, which is the database clock at insert time.
        let mut insert_columns: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        let mut values: Vec<String> = (1..=insert_columns.len())
            .map(|i| format!("${i}"))
            .collect();
        insert_columns.push("occurred_at".to_owned());
        values.push("clock_timestamp()".to_owned());
        let n = values.len();
        // The deadline is set first (`cfg`); the lock is taken by scanning
        // `lock`, which reads `cfg`; a keyed append then holds its keys
        // (`keys`, reading `lock`), and the insert reads the last of them.
        let (use_keys_fn, keys_table) = (names.use_keys_fn.as_str(), names.keys.as_str());
        let insert = |lock: Option<String>, deadline: usize, keyed: bool| -> Arc<str> {
            let mut ctes = vec![deadline_cte(deadline, notify)];
            let mut from = "cfg";
            if let Some(lock) = lock {
                ctes.push(format!("lock AS (SELECT {lock} FROM cfg)"));
                from = "lock";
            }
            let mut guard = no_chunked_replay.clone();
            if keyed {
                ctes.push(keys_cte(use_keys_fn, keys_table, from, deadline + 1));
                from = "keys";
                guard = format!("keys.held AND {guard}");
            }
            let insert = format!(
                "INSERT INTO {table} ({}) SELECT {} FROM {from} WHERE {guard} \
                 RETURNING id, occurred_at",
                insert_columns.join(", "),
                values.join(", "),
            );
            if keyed {
                format!("WITH {}, ins AS ({insert}) {KEYED_RESULT}", ctes.join(", ")).into()
            } else {
                format!("WITH {} {insert}", ctes.join(", ")).into()
            }
        };
        let single = || Some(format!("pg_advisory_xact_lock(${n}::int8)"));
        let pair = || {
            Some(format!(
                "pg_advisory_xact_lock(${n}::int4, ${}::int4)",
                n + 1
            ))
        };
        let many = |shared: bool, keyed: bool| {
            let keyed = keyed.then_some((use_keys_fn, keys_table));
            insert_many_sql(&columns, &table, &no_chunked_replay, shared, notify, keyed)
        };
        let keyed = KeyedInserts {
            single: insert(single(), n + 1, true),
            pair: insert(pair(), n + 2, true),
            unlocked: insert(None, n, true),
            many: many(true, true),
            many_rows: many(false, true),
        };
        let insert_single = insert(single(), n + 1, false);
        let insert_pair = insert(pair(), n + 2, false);
        let insert_unlocked = insert(None, n, false);
        let insert_many = many(true, false);
        let insert_many_rows = many(false, false);

        let select_columns: Vec<String> = EVENT_COLUMNS
            .iter()
            .map(|c| (*c).to_owned())
            .chain(actors)
            .collect();
        let select_list = format!("SELECT {}", select_columns.join(", "));
        let select = format!("{select_list} FROM {table}");

        Statements {
            insert_single,
            insert_pair,
            insert_unlocked,
            insert_many,
            insert_many_rows,
            keyed,
            // Manual audit entries are not events: they have no action to replay and
            // do not fit `Event` (see `crate::audit`).
            list_first: format!("{select} WHERE action_type <> 'manual' ORDER BY id LIMIT $1")
                .into(),
            list_after: format!(
                "{select} WHERE id > $1 AND action_type <> 'manual' ORDER BY id LIMIT $2"
            )
            .into(),
            for_record: format!(
                "{select} WHERE resource = $1 AND record_id = $2 AND action_type <> 'manual' \
                 ORDER BY id"
            )
            .into(),
            migration: migration_sql::<L>().into(),
            begin_replay: format!("SELECT {}()", names.replay_fn).into(),
            horizon: format!(
                "SELECT pruned_before, pruned_at FROM {} ORDER BY pruned_before DESC LIMIT 1",
                names.horizon
            )
            .into(),
            prune: format!(
                "SELECT out_deleted, out_deleted_actions, out_cutoff, out_entry FROM {}($1, $2{})",
                names.prune_fn,
                if L::PRIMARY_KEY_TYPE == PrimaryKeyType::UuidV7 {
                    ", $3"
                } else {
                    ""
                },
            )
            .into(),
            prune_cutoff: format!(
                "SELECT CASE WHEN isfinite(c) THEN c END AS cutoff FROM (SELECT {} AS c) cut",
                prune_cutoff_sql("$1::int8")
            )
            .into(),
            prune_batch: format!(
                "SELECT out_deleted, out_deleted_actions, out_more, out_entry \
                 FROM {}(COALESCE($1::timestamptz, '-infinity'), $2, $3{})",
                names.prune_batch_fn,
                if L::PRIMARY_KEY_TYPE == PrimaryKeyType::UuidV7 {
                    ", $4"
                } else {
                    ""
                },
            )
            .into(),
            last_position: format!(
                "SELECT e.txid::text, e.id FROM {table} e ORDER BY e.txid DESC, e.id DESC LIMIT 1"
            )
            .into(),
            position_of: format!("SELECT txid::text, id FROM {table} WHERE id = $1").into(),
            load_checkpoint: format!(
                "SELECT selection, last_txid::text, last_id, bound_txid::text, bound_id, applied, \
                 total, started_at FROM {checkpoint_table}"
            )
            .into(),
            save_checkpoint: format!(
                "INSERT INTO {checkpoint_table} (selection, last_txid, last_id, bound_txid, bound_id, \
                 applied, total) VALUES ($1, $2::text::xid8, $3, $4::text::xid8, $5, $6, $7) \
                 ON CONFLICT (singleton) DO UPDATE SET last_txid = EXCLUDED.last_txid, \
                 last_id = EXCLUDED.last_id, applied = EXCLUDED.applied, updated_at = now()"
            )
            .into(),
            delete_checkpoint: format!("DELETE FROM {checkpoint_table}").into(),
            consumers: ConsumerStatements::new::<L>(&names),
            insert_changes: format!(
                "INSERT INTO {} (event_id, old_values, new_values, diff_values, unchanged) \
                 SELECT * FROM unnest($1::{}[], $2::jsonb[], $3::jsonb[], $4::jsonb[], $5::bool[])",
                names.changes,
                match L::PRIMARY_KEY_TYPE {
                    PrimaryKeyType::Integer => "int8",
                    PrimaryKeyType::UuidV7 => "uuid",
                },
            )
            .into(),
            audit: AuditSql::new::<L>(&names, &columns, notify),
            personal: PersonalSql::new::<L>(&names),
            notify,
            select_list,
            names,
            columns,
        }
    }
}

/// The cutoff of a prune by a period of `ms` milliseconds (an SQL expression):
/// `now()` minus the period, or `-infinity` for a period reaching past every
/// representable time (over ~3,000 years), which keeps everything. The rule of
/// the owner's `<table>_prune`, which computes it itself.
pub(crate) fn prune_cutoff_sql(ms: &str) -> String {
    format!(
        "CASE WHEN {ms} > 100000000000000 THEN '-infinity'::timestamptz \
         ELSE now() - make_interval(secs => {ms} / 1000.0) END"
    )
}

/// The `cfg` column that turns notifications on for the rest of the
/// transaction: its commit announces it on the log's channel (see
/// [`PgEventStore::with_notifications`](crate::PgEventStore::with_notifications)).
pub(crate) const NOTIFY_ON: &str = ", pg_catalog.set_config('events.notify', 'on', true) AS nt";

/// A CTE `cfg` (one row) that tells the database a call's deadline, parameter
/// `$n` in milliseconds (`NULL`: nothing): `statement_timeout` and
/// `idle_in_transaction_session_timeout` for the rest of the transaction, each
/// lowered to it, never raised (a shorter timeout of the session stays). Set in
/// the call's first statement, so it costs no statement of its own: it applies
/// from the next statement on, the body's.
fn deadline_cte(n: usize, notify: bool) -> String {
    let set = |name: &str| {
        format!(
            "pg_catalog.set_config('{name}', CASE WHEN ${n}::int8 IS NULL \
             OR (t.{name} > 0 AND t.{name} <= ${n}::int8) \
             THEN pg_catalog.current_setting('{name}') ELSE (${n}::int8)::text END, true)"
        )
    };
    let ms = |name: &str| {
        format!(
            "extract(epoch FROM pg_catalog.current_setting('{name}')::interval) * 1000 AS {name}"
        )
    };
    format!(
        "cfg AS (SELECT {} AS st, {} AS it{} FROM (SELECT {}, {}) AS t)",
        set("statement_timeout"),
        set("idle_in_transaction_session_timeout"),
        if notify { NOTIFY_ON } else { "" },
        ms("statement_timeout"),
        ms("idle_in_transaction_session_timeout"),
    )
}

/// The text of [`Statements::insert_many`] (`shared`) or
/// [`Statements::insert_many_rows`]; with `keyed` (the `<table>_use_keys`
/// function and the keys table), their [`KeyedInserts`] forms.
fn insert_many_sql(
    columns: &[Column],
    table: &str,
    guard: &str,
    shared: bool,
    notify: bool,
    keyed: Option<(&str, &str)>,
) -> Arc<str> {
    let mut values = Vec::new();
    let mut arrays = Vec::new();
    let mut row_columns = Vec::new();
    for (i, column) in columns.iter().enumerate() {
        let (param, ty) = (i + 1, column.sql_type);
        if shared && !column.per_event() {
            values.push(format!("${param}::{ty}"));
        } else {
            arrays.push(format!("${param}::{ty}[]"));
            row_columns.push(format!("c{i}"));
            values.push(format!("r.c{i}"));
        }
    }
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let n = columns.len();
    let (singles, pair_a, pair_b) = (n + 1, n + 2, n + 3);
    let cfg = deadline_cte(n + 4, notify);
    // Each lock aggregate reads a sorted, distinct subquery, so the locks are
    // taken in key order; `clock_timestamp()` is read once both are done, and the
    // insert scans `lock` (and for a keyed append, `keys`, which reads `lock`)
    // before writing a row.
    let (keys, from_keys, held) = match keyed {
        Some((use_keys_fn, keys_table)) => (
            format!(", {}", keys_cte(use_keys_fn, keys_table, "lock", n + 5)),
            ", keys",
            "keys.held AND ",
        ),
        None => (String::new(), "", ""),
    };
    let insert = format!(
        "INSERT INTO {table} ({}, occurred_at) SELECT {}, lock.at FROM lock{from_keys}, \
         unnest({}) WITH ORDINALITY AS r({}, ord) \
         WHERE {held}{guard} ORDER BY r.ord RETURNING id, occurred_at",
        names.join(", "),
        values.join(", "),
        arrays.join(", "),
        row_columns.join(", "),
    );
    let ctes = format!(
        "WITH {cfg}, lock AS (\
         SELECT clock_timestamp() AS at FROM cfg, \
         (SELECT count(pg_advisory_xact_lock(k)) FROM \
         (SELECT DISTINCT k FROM unnest(${singles}::int8[]) AS u(k) ORDER BY k) s) singles, \
         (SELECT count(pg_advisory_xact_lock(a, b)) FROM \
         (SELECT DISTINCT a, b FROM unnest(${pair_a}::int4[], ${pair_b}::int4[]) AS u(a, b) ORDER BY a, b) s) pairs){keys}"
    );
    match keyed {
        Some(_) => format!("{ctes}, ins AS ({insert}) {KEYED_RESULT}").into(),
        None => format!("{ctes} {insert}").into(),
    }
}
