//! Parses the arguments of `#[event_log(...)]` into plain structs, syntax only.
//!
//! Every malformed or unknown option is reported; parsing goes on past errors so
//! the checks in `check.rs` still see everything that did parse.

use darling::ast::NestedMeta;
use darling::error::Accumulator;
use darling::{Error, FromMeta};
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Expr, Ident, LitBool, LitInt, LitStr, Meta, Path};

use crate::common::{self, IntList, Word};

/// Options `#[event_log]` takes.
pub(crate) const OPTIONS: &[&str] = &[
    "clear_records_for_replay",
    "primary_key_type",
    "record_id_type",
    "advisory_lock_key_default",
    "advisory_lock_key_generator",
    "advisory_lock_scope",
    "persist_actor_primary_key",
    "replay_override",
    "table",
    "track_commit_time",
];

const ACTOR_OPTIONS: &[&str] = &["allow_nil", "attribute_type", "public"];
const OVERRIDE_OPTIONS: &[&str] = &["versions", "route_to"];

/// `#[event_log(...)]` as written.
#[derive(Debug, Default)]
pub(crate) struct EventLogAttr {
    /// `clear_records_for_replay = Type`.
    pub clear_records_for_replay: Option<Path>,
    /// `primary_key_type = integer | uuid_v7`.
    pub primary_key_type: Option<Ident>,
    /// `record_id_type = uuid | integer | string`.
    pub record_id_type: Option<Ident>,
    /// `advisory_lock_key_default = <i64> | [<i32>, <i32>]`, checked later.
    pub advisory_lock_key_default: Option<Expr>,
    /// `advisory_lock_key_generator = Type`.
    pub advisory_lock_key_generator: Option<Path>,
    /// `advisory_lock_scope = global | tenant | record`.
    pub advisory_lock_scope: Option<Ident>,
    /// Each `persist_actor_primary_key(..)`.
    pub actors: Vec<ActorAttr>,
    /// Each `replay_override(..)`.
    pub overrides: Vec<OverrideAttr>,
    /// `table = "name"`.
    pub table: Option<LitStr>,
    /// `track_commit_time = bool`.
    pub track_commit_time: Option<LitBool>,
}

/// `persist_actor_primary_key(name, Destination, allow_nil = .., attribute_type = .., public = ..)`.
#[derive(Debug)]
pub(crate) struct ActorAttr {
    /// The column name.
    pub name: Ident,
    /// The actor type.
    pub destination: Path,
    /// `allow_nil = bool`.
    pub allow_nil: Option<LitBool>,
    /// `attribute_type = uuid | integer | string`.
    pub attribute_type: Option<Ident>,
    /// `public = bool`.
    pub public: Option<LitBool>,
}

/// `replay_override(Resource, action, versions = [..], route_to(Resource, action), ..)`.
#[derive(Debug)]
pub(crate) struct OverrideAttr {
    /// The `replay_override` keyword, for errors about the whole override.
    pub span: Span,
    /// Resource stored in the events to match.
    pub resource: Path,
    /// Action stored in the events to match.
    pub action: Ident,
    /// `versions = [..]`.
    pub versions: Option<Vec<LitInt>>,
    /// Each `route_to(Resource, action)`, in order.
    pub routes: Vec<(Path, Ident)>,
    /// Whether an option inside was malformed or unknown (already reported): then a
    /// missing `versions` or `route_to` is most likely that option, not reported again.
    pub malformed: bool,
}

/// Parses the attribute's items, pushing every error into `acc`.
pub(crate) fn parse(items: &[NestedMeta], acc: &mut Accumulator) -> EventLogAttr {
    let mut out = EventLogAttr::default();
    for item in items {
        let Some(meta) = acc.handle(common::option_meta(item, "primary_key_type = integer")) else {
            continue;
        };
        let name = common::option_name(meta);
        match name.as_str() {
            "clear_records_for_replay" => {
                let v = common::name_value(meta, &name, "ClearAll").and_then(Path::from_expr);
                if let Some(v) = acc.handle(v) {
                    common::set_once(&mut out.clear_records_for_replay, v, &name, meta, acc);
                }
            }
            "primary_key_type" => {
                let v = common::name_value(meta, &name, "integer").and_then(Word::from_expr);
                if let Some(v) = acc.handle(v) {
                    common::set_once(&mut out.primary_key_type, v.0, &name, meta, acc);
                }
            }
            "record_id_type" => {
                let v = common::name_value(meta, &name, "uuid").and_then(Word::from_expr);
                if let Some(v) = acc.handle(v) {
                    common::set_once(&mut out.record_id_type, v.0, &name, meta, acc);
                }
            }
            "advisory_lock_key_default" => {
                let v = common::name_value(meta, &name, "2147483647").cloned();
                if let Some(v) = acc.handle(v) {
                    common::set_once(&mut out.advisory_lock_key_default, v, &name, meta, acc);
                }
            }
            "advisory_lock_key_generator" => {
                let v = common::name_value(meta, &name, "MyKeys").and_then(Path::from_expr);
                if let Some(v) = acc.handle(v) {
                    common::set_once(&mut out.advisory_lock_key_generator, v, &name, meta, acc);
                }
            }
            "advisory_lock_scope" => {
                let v = common::name_value(meta, &name, "record").and_then(Word::from_expr);
                if let Some(v) = acc.handle(v) {
                    common::set_once(&mut out.advisory_lock_scope, v.0, &name, meta, acc);
                }
            }
            "table" => {
                let v = common::name_value(meta, &name, "\"events\"").and_then(|e| {
                    <LitStr as FromMeta>::from_expr(e).map_err(|err| err.with_span(e))
                });
                if let Some(v) = acc.handle(v) {
                    common::set_once(&mut out.table, v, &name, meta, acc);
                }
            }
            "track_commit_time" => {
                let v = common::name_value(meta, &name, "true").and_then(common::boolean);
                if let Some(v) = acc.handle(v) {
                    common::set_once(&mut out.track_commit_time, v, &name, meta, acc);
                }
            }
            "persist_actor_primary_key" => {
                if let Some(actor) = parse_actor(meta, acc) {
                    out.actors.push(actor);
                }
            }
            "replay_override" => {
                if let Some(o) = parse_override(meta, acc) {
                    out.overrides.push(o);
                }
            }
            "replay_overrides" => acc.push(
                Error::custom(
                    "write each override as its own `replay_override(Resource, action, versions = [..], route_to(Resource, action))` option",
                )
                .with_span(meta.path()),
            ),
            other => acc.push(common::unknown("#[event_log] option", other, OPTIONS, meta.path())),
        }
    }
    out
}

fn parse_actor(meta: &Meta, acc: &mut Accumulator) -> Option<ActorAttr> {
    let example = "user_id, User";
    let items = acc.handle(common::list(meta, "persist_actor_primary_key", example))?;
    let span = meta.span();
    let name = acc.handle(common::positional_ident(
        items.first(),
        "the actor column name, like `user_id`",
        span,
    ));
    let destination = acc.handle(common::positional_path(
        items.get(1),
        "the actor type, like `User`",
        span,
    ));
    let (mut allow_nil, mut attribute_type, mut public) = (None, None, None);
    for item in items.iter().skip(2) {
        let Some(opt) = acc.handle(common::option_meta(item, "allow_nil = true")) else {
            continue;
        };
        let opt_name = common::option_name(opt);
        match opt_name.as_str() {
            "allow_nil" => {
                let v = common::name_value(opt, "allow_nil", "true").and_then(common::boolean);
                if let Some(v) = acc.handle(v) {
                    common::set_once(&mut allow_nil, v, "allow_nil", opt, acc);
                }
            }
            "public" => {
                let v = common::name_value(opt, "public", "false").and_then(common::boolean);
                if let Some(v) = acc.handle(v) {
                    common::set_once(&mut public, v, "public", opt, acc);
                }
            }
            "attribute_type" => {
                let v = common::name_value(opt, "attribute_type", "uuid").and_then(Word::from_expr);
                if let Some(v) = acc.handle(v) {
                    common::set_once(&mut attribute_type, v.0, "attribute_type", opt, acc);
                }
            }
            other => acc.push(common::unknown(
                "persist_actor_primary_key option",
                other,
                ACTOR_OPTIONS,
                opt.path(),
            )),
        }
    }
    Some(ActorAttr {
        name: name?,
        destination: destination?.clone(),
        allow_nil,
        attribute_type,
        public,
    })
}

fn parse_override(meta: &Meta, outer: &mut Accumulator) -> Option<OverrideAttr> {
    let mut acc = Error::accumulator();
    let parsed = parse_override_items(meta, &mut acc);
    let errors = acc.into_inner();
    let malformed = !errors.is_empty();
    outer.extend(errors);
    parsed.map(|o| OverrideAttr { malformed, ..o })
}

fn parse_override_items(meta: &Meta, acc: &mut Accumulator) -> Option<OverrideAttr> {
    let example = "User, create, versions = [1], route_to(User, create_v1)";
    let items = acc.handle(common::list(meta, "replay_override", example))?;
    let span = meta.path().span();
    let resource = acc.handle(common::positional_path(
        items.first(),
        "the resource stored in the events, like `User`",
        span,
    ));
    let action = acc.handle(common::positional_ident(
        items.get(1),
        "the action stored in the events, like `create`",
        span,
    ));
    let mut versions = None;
    let mut routes = Vec::new();
    for item in items.iter().skip(2) {
        let Some(opt) = acc.handle(common::option_meta(item, "versions = [1]")) else {
            continue;
        };
        let opt_name = common::option_name(opt);
        match opt_name.as_str() {
            "versions" => {
                let v = common::name_value(opt, "versions", "[1]").and_then(IntList::from_expr);
                if let Some(v) = acc.handle(v) {
                    common::set_once(&mut versions, v.0, "versions", opt, acc);
                }
            }
            "route_to" => {
                let Some(args) = acc.handle(common::list(opt, "route_to", "User, create_v1"))
                else {
                    continue;
                };
                let at = opt.span();
                let target = acc.handle(common::positional_path(
                    args.first(),
                    "the target resource, like `User`",
                    at,
                ));
                let action = acc.handle(common::positional_ident(
                    args.get(1),
                    "the target action, like `create_v1`",
                    at,
                ));
                if let Some(extra) = args.get(2) {
                    acc.push(
                        Error::custom("route_to takes exactly a resource and an action")
                            .with_span(extra),
                    );
                }
                if let (Some(t), Some(a)) = (target, action) {
                    routes.push((t.clone(), a));
                }
            }
            other => acc.push(common::unknown(
                "replay_override option",
                other,
                OVERRIDE_OPTIONS,
                opt.path(),
            )),
        }
    }
    Some(OverrideAttr {
        span,
        resource: resource?.clone(),
        action: action?,
        versions,
        routes,
        malformed: false,
    })
}
