//! Checks `#[event_log(...)]` and builds the model the expansion reads.
//!
//! Each rule is its own function; all of them run, and every violation is
//! reported with the span of the token at fault. Invalid values fall back to
//! their defaults so expansion can still produce the event log's impl.

use std::collections::HashMap;

use darling::Error;
use darling::error::Accumulator;
use proc_macro2::Span;
use syn::{Expr, Ident, Lit, Path, UnOp};

use super::attr::{ActorAttr, EventLogAttr, OverrideAttr};
use crate::common::{self, KeyTy};
use crate::options;

/// Columns every event table has; actor columns must not reuse them.
const RESERVED_COLUMNS: &[&str] = &[
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
    "recorded_at",
    "txid",
];

/// The event table's primary key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PkTy {
    Integer,
    UuidV7,
}

/// `advisory_lock_key_default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockDefault {
    Single(i64),
    Pair(i32, i32),
}

impl LockDefault {
    /// AshEvents' default key.
    const DEFAULT: LockDefault = LockDefault::Single(2_147_483_647);
}

/// The checked configuration.
#[derive(Debug)]
pub(crate) struct EventLogModel {
    pub table: String,
    pub primary_key_type: PkTy,
    pub record_id_type: KeyTy,
    pub lock_default: LockDefault,
    pub lock_generator: Option<Path>,
    pub lock_scope: Option<common::Scope>,
    pub clear_records: Option<Path>,
    pub actors: Vec<ActorModel>,
    pub overrides: Vec<OverrideModel>,
    pub track_commit_time: bool,
}

/// One checked actor column.
#[derive(Debug)]
pub(crate) struct ActorModel {
    pub name: Ident,
    pub destination: Path,
    pub allow_nil: bool,
    pub attribute_type: KeyTy,
    pub public: bool,
}

/// One checked replay override.
#[derive(Debug)]
pub(crate) struct OverrideModel {
    pub resource: Path,
    pub action: Ident,
    pub versions: Vec<u32>,
    pub routes: Vec<(Path, Ident)>,
}

/// Runs every rule over the parsed attribute.
pub(crate) fn check(attr: EventLogAttr, acc: &mut Accumulator) -> EventLogModel {
    let primary_key_type = attr
        .primary_key_type
        .get()
        .map_or(PkTy::Integer, |w| primary_key_type(w, acc));
    let record_id_type = attr.record_id_type.get().map_or(KeyTy::Uuid, |w| {
        acc.handle(KeyTy::parse(w, "record_id_type"))
            .unwrap_or(KeyTy::Uuid)
    });
    let lock_default = attr
        .advisory_lock_key_default
        .get()
        .map_or(LockDefault::DEFAULT, |e| lock_default(e, acc));
    let table = attr
        .table
        .get()
        .map_or_else(|| "events".to_owned(), |t| table_name(t, acc));
    let mut actors: Vec<ActorModel> = attr.actors.iter().map(|a| actor(a, acc)).collect();
    actor_columns_unique(&actors, acc);
    actor_columns_not_reserved(&actors, acc);
    actor_destinations_unique(&mut actors, acc);
    several_actors_allow_nil(&attr.actors, acc);
    let overrides: Vec<OverrideModel> = attr
        .overrides
        .iter()
        .map(|o| replay_override(o, acc))
        .collect();
    overrides_do_not_overlap(&attr.overrides, acc);
    let lock_scope = lock_scope(&attr, acc);
    EventLogModel {
        lock_scope,
        table,
        primary_key_type,
        record_id_type,
        lock_default,
        lock_generator: attr.advisory_lock_key_generator.into_inner(),
        clear_records: attr.clear_records_for_replay.into_inner(),
        actors,
        overrides,
        track_commit_time: attr.track_commit_time.get().is_some_and(|b| b.value),
    }
}

// advisory_lock_scope is `global`, `tenant` or `record`, and a custom generator is a scope of its own.
fn lock_scope(attr: &EventLogAttr, acc: &mut Accumulator) -> Option<common::Scope> {
    let word = attr.advisory_lock_scope.get()?;
    let scope = acc.handle(common::Scope::parse(word))?;
    if attr.advisory_lock_key_generator.is_set() {
        acc.push(
            Error::custom(
                "advisory_lock_scope and advisory_lock_key_generator exclude each other: a generator \
                 defines its own scope; keep one",
            )
            .with_span(word),
        );
        return None;
    }
    Some(scope)
}

// primary_key_type is `integer` or `uuid_v7`.
fn primary_key_type(word: &Ident, acc: &mut Accumulator) -> PkTy {
    const WORDS: &[(&str, PkTy)] = &[("integer", PkTy::Integer), ("uuid_v7", PkTy::UuidV7)];
    acc.handle(options::choose(word, "primary_key_type", WORDS))
        .unwrap_or(PkTy::Integer)
}

// advisory_lock_key_default is an i64, or a pair of i32.
fn lock_default(expr: &Expr, acc: &mut Accumulator) -> LockDefault {
    const HELP: &str = "write an i64 like `2147483647` or a pair of i32 like `[1337, 31337]`";
    match expr {
        Expr::Array(arr) if arr.elems.len() == 2 => {
            let mut pair = [0_i32; 2];
            for (slot, elem) in pair.iter_mut().zip(&arr.elems) {
                match int_value(elem) {
                    Some(v) => match i32::try_from(v) {
                        Ok(v) => *slot = v,
                        Err(_) => acc.push(
                            Error::custom(format!(
                                "`{v}` is out of range for an i32 ({} to {}): each key of an advisory_lock_key_default pair is an i32",
                                i32::MIN,
                                i32::MAX
                            ))
                            .with_span(elem),
                        ),
                    },
                    None => acc.push(
                        Error::custom(format!(
                            "each key of the advisory_lock_key_default pair must be an integer; {HELP}"
                        ))
                        .with_span(elem),
                    ),
                }
            }
            LockDefault::Pair(pair[0], pair[1])
        }
        Expr::Array(arr) => {
            acc.push(
                Error::custom(format!(
                    "advisory_lock_key_default is one key or a pair of keys, found a list of {}; {HELP}",
                    arr.elems.len()
                ))
                .with_span(expr),
            );
            LockDefault::DEFAULT
        }
        _ => match int_value(expr).map(i64::try_from) {
            Some(Ok(v)) => LockDefault::Single(v),
            other => {
                let message = match (other, expr) {
                    (Some(Err(_)), _)
                    | (
                        None,
                        Expr::Lit(syn::ExprLit {
                            lit: Lit::Int(_), ..
                        }),
                    ) => {
                        format!(
                            "advisory_lock_key_default is out of range for an i64 ({} to {}); {HELP}",
                            i64::MIN,
                            i64::MAX
                        )
                    }
                    (
                        _,
                        Expr::Lit(syn::ExprLit {
                            lit: Lit::Str(_), ..
                        }),
                    ) => format!("advisory_lock_key_default is a number, not a string; {HELP}"),
                    (
                        _,
                        Expr::Lit(syn::ExprLit {
                            lit: Lit::Float(_), ..
                        }),
                    ) => {
                        format!("advisory_lock_key_default must be an integer, not a float; {HELP}")
                    }
                    _ => format!("advisory_lock_key_default must be an integer; {HELP}"),
                };
                acc.push(Error::custom(message).with_span(expr));
                LockDefault::DEFAULT
            }
        },
    }
}

/// An integer literal, possibly negated.
fn int_value(expr: &Expr) -> Option<i128> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(i), ..
        }) if i.suffix().is_empty() || i.suffix() == "i64" || i.suffix() == "i32" => {
            i.base10_parse::<i128>().ok()
        }
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => int_value(&u.expr).map(|v| -v),
        Expr::Group(g) => int_value(&g.expr),
        _ => None,
    }
}

// table is a plain SQL identifier, optionally schema-qualified.
fn table_name(lit: &syn::LitStr, acc: &mut Accumulator) -> String {
    let value = lit.value();
    let valid_part = |p: &str| {
        !p.is_empty()
            && p.len() <= 63
            && p.chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let parts: Vec<&str> = value.split('.').collect();
    if parts.len() > 2 || !parts.iter().all(|p| valid_part(p)) {
        acc.push(
            Error::custom(format!(
                "table `{value}` is not a plain SQL name; use lowercase letters, digits and `_` (at most 63), optionally as `schema.table`"
            ))
            .with_span(lit),
        );
        return "events".to_owned();
    }
    value
}

// attribute_type is `uuid`, `integer` or `string`; allow_nil and public default as in AshEvents.
fn actor(a: &ActorAttr, acc: &mut Accumulator) -> ActorModel {
    let o = &a.options;
    let attribute_type = o.attribute_type.get().map_or(KeyTy::Uuid, |w| {
        acc.handle(KeyTy::parse(w, "attribute_type"))
            .unwrap_or(KeyTy::Uuid)
    });
    ActorModel {
        name: a.name.clone(),
        destination: a.destination.clone(),
        allow_nil: o.allow_nil.get().is_none_or(|b| b.value),
        attribute_type,
        public: o.public.get().is_some_and(|b| b.value),
    }
}

// Actor column names are unique.
fn actor_columns_unique(actors: &[ActorModel], acc: &mut Accumulator) {
    let mut seen: HashMap<String, &Ident> = HashMap::new();
    for a in actors {
        let name = a.name.to_string();
        if seen.insert(name.clone(), &a.name).is_some() {
            acc.push(
                Error::custom(format!("duplicate actor column `{name}`; give each persist_actor_primary_key its own column name"))
                    .with_span(&a.name),
            );
        }
    }
}

// Actor column names do not reuse the event table's own columns.
fn actor_columns_not_reserved(actors: &[ActorModel], acc: &mut Accumulator) {
    for a in actors {
        let name = a.name.to_string();
        if RESERVED_COLUMNS.contains(&name.as_str()) {
            acc.push(
                Error::custom(format!(
                    "actor column `{name}` clashes with the event table's own `{name}` column; pick another name, like `{name}_actor`"
                ))
                .with_span(&a.name),
            );
        }
    }
}

// One column per actor type: the type picks the column when an action runs.
// A repeated type is dropped from the model, so it gets no second impl.
fn actor_destinations_unique(actors: &mut Vec<ActorModel>, acc: &mut Accumulator) {
    let mut seen: HashMap<String, Ident> = HashMap::new();
    actors.retain(|a| {
        let dest = common::path_string(&a.destination);
        match seen.get(&dest) {
            Some(first) => {
                acc.push(
                    Error::custom(format!(
                        "actor type `{dest}` already has column `{first}`; each actor type is persisted in one column"
                    ))
                    .with_span(&a.destination),
                );
                false
            }
            None => {
                seen.insert(dest, a.name.clone());
                true
            }
        }
    });
}

// With more than one actor column, every one allows nil: an event has one actor.
fn several_actors_allow_nil(actors: &[ActorAttr], acc: &mut Accumulator) {
    if actors.len() < 2 {
        return;
    }
    for a in actors {
        if let Some(b) = a.options.allow_nil.get().filter(|b| !b.value) {
            acc.push(
                Error::custom(format!(
                    "actor column `{}` cannot have allow_nil = false: with several persist_actor_primary_key, every one must allow nil; remove `allow_nil = false`",
                    a.name
                ))
                .with_span(b),
            );
        }
    }
}

// An override names versions (each 1 or more) and at least one route_to.
fn replay_override(o: &OverrideAttr, acc: &mut Accumulator) -> OverrideModel {
    let mut versions = Vec::new();
    match &o.versions {
        None if o.malformed => {}
        None => acc.push(
            Error::custom("replay_override needs `versions = [..]`: the event versions it routes")
                .with_span(&o.span),
        ),
        Some(list) if list.is_empty() => acc.push(
            Error::custom("replay_override needs at least one version in `versions = [..]`")
                .with_span(&o.span),
        ),
        Some(list) => {
            for lit in list {
                if let Some(v) = acc.handle(common::version(lit, "a replayed version")) {
                    if versions.contains(&v) {
                        acc.push(
                            Error::custom(format!(
                                "version {v} is listed twice in this replay_override's versions"
                            ))
                            .with_span(lit),
                        );
                    }
                    versions.push(v);
                }
            }
        }
    }
    if o.routes.is_empty() && !o.malformed {
        acc.push(
            Error::custom("replay_override needs at least one `route_to(Resource, action)`: where the old events go")
                .with_span(&o.span),
        );
    }
    OverrideModel {
        resource: o.resource.clone(),
        action: o.action.clone(),
        versions,
        routes: o.routes.clone(),
    }
}

// No two overrides route the same (resource, action, version).
fn overrides_do_not_overlap(overrides: &[OverrideAttr], acc: &mut Accumulator) {
    let mut seen: HashMap<(String, String, String), Span> = HashMap::new();
    for o in overrides {
        let mut own = std::collections::HashSet::new();
        for lit in o.versions.iter().flatten() {
            let key = (
                common::path_string(&o.resource),
                o.action.to_string(),
                lit.base10_digits().to_owned(),
            );
            if !own.insert(key.clone()) {
                continue; // reported by `replay_override` as listed twice
            }
            if seen.insert(key.clone(), lit.span()).is_some() {
                acc.push(
                    Error::custom(format!(
                        "version {} of `{}.{}` is already routed by an earlier replay_override; merge the two",
                        key.2, key.0, key.1
                    ))
                    .with_span(lit),
                );
            }
        }
    }
}
