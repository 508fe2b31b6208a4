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
use crate::options::{self, Once, Opt, Options};

/// Options `#[event_log]` takes.
const OPTIONS: Options<EventLogAttr> = Options {
    what: "#[event_log] option",
    table: &[
        Opt {
            name: "clear_records_for_replay",
            parse: |a, m, acc| {
                options::set_value(
                    &mut a.clear_records_for_replay,
                    m,
                    "ClearAll",
                    Path::from_expr,
                    acc,
                )
            },
        },
        Opt {
            name: "primary_key_type",
            parse: |a, m, acc| options::set_value(&mut a.primary_key_type, m, "integer", word, acc),
        },
        Opt {
            name: "record_id_type",
            parse: |a, m, acc| options::set_value(&mut a.record_id_type, m, "uuid", word, acc),
        },
        Opt {
            name: "advisory_lock_key_default",
            parse: |a, m, acc| {
                options::set_value(
                    &mut a.advisory_lock_key_default,
                    m,
                    "2147483647",
                    |e| Ok(e.clone()),
                    acc,
                )
            },
        },
        Opt {
            name: "advisory_lock_key_generator",
            parse: |a, m, acc| {
                options::set_value(
                    &mut a.advisory_lock_key_generator,
                    m,
                    "MyKeys",
                    Path::from_expr,
                    acc,
                )
            },
        },
        Opt {
            name: "advisory_lock_scope",
            parse: |a, m, acc| {
                options::set_value(&mut a.advisory_lock_scope, m, "record", word, acc)
            },
        },
        Opt {
            name: "persist_actor_primary_key",
            parse: |a, m, acc| a.actors.extend(parse_actor(m, acc)),
        },
        Opt {
            name: "replay_override",
            parse: |a, m, acc| a.overrides.extend(parse_override(m, acc)),
        },
        Opt {
            name: "table",
            parse: |a, m, acc| options::set_value(&mut a.table, m, "\"events\"", lit_str, acc),
        },
        Opt {
            name: "track_commit_time",
            parse: |a, m, acc| {
                options::set_value(&mut a.track_commit_time, m, "true", common::boolean, acc)
            },
        },
    ],
    hints: &[(
        "replay_overrides",
        "write each override as its own `replay_override(Resource, action, versions = [..], route_to(Resource, action))` option",
    )],
};

/// Options of `persist_actor_primary_key(name, Type, ..)` after its two positional arguments.
const ACTOR_OPTIONS: Options<ActorOptions> = Options {
    what: "persist_actor_primary_key option",
    table: &[
        Opt {
            name: "allow_nil",
            parse: |a, m, acc| {
                options::set_value(&mut a.allow_nil, m, "true", common::boolean, acc)
            },
        },
        Opt {
            name: "attribute_type",
            parse: |a, m, acc| options::set_value(&mut a.attribute_type, m, "uuid", word, acc),
        },
        Opt {
            name: "public",
            parse: |a, m, acc| options::set_value(&mut a.public, m, "false", common::boolean, acc),
        },
    ],
    hints: &[],
};

/// Options of `replay_override(Resource, action, ..)` after its two positional arguments.
const OVERRIDE_OPTIONS: Options<OverrideOptions> = Options {
    what: "replay_override option",
    table: &[
        Opt {
            name: "versions",
            parse: |o, m, acc| {
                options::set_value(
                    &mut o.versions,
                    m,
                    "[1]",
                    |e| IntList::from_expr(e).map(|l| l.0),
                    acc,
                )
            },
        },
        Opt {
            name: "route_to",
            parse: |o, m, acc| o.routes.extend(parse_route(m, acc)),
        },
    ],
    hints: &[],
};

fn word(expr: &Expr) -> darling::Result<Ident> {
    Word::from_expr(expr).map(|w| w.0)
}

fn lit_str(expr: &Expr) -> darling::Result<LitStr> {
    <LitStr as FromMeta>::from_expr(expr).map_err(|err| err.with_span(expr))
}

/// `#[event_log(...)]` as written.
#[derive(Debug, Default)]
pub(crate) struct EventLogAttr {
    /// `clear_records_for_replay = Type`.
    pub clear_records_for_replay: Once<Path>,
    /// `primary_key_type = integer | uuid_v7`.
    pub primary_key_type: Once<Ident>,
    /// `record_id_type = uuid | integer | string`.
    pub record_id_type: Once<Ident>,
    /// `advisory_lock_key_default = <i64> | [<i32>, <i32>]`, checked later.
    pub advisory_lock_key_default: Once<Expr>,
    /// `advisory_lock_key_generator = Type`.
    pub advisory_lock_key_generator: Once<Path>,
    /// `advisory_lock_scope = global | tenant | record`.
    pub advisory_lock_scope: Once<Ident>,
    /// Each `persist_actor_primary_key(..)`.
    pub actors: Vec<ActorAttr>,
    /// Each `replay_override(..)`.
    pub overrides: Vec<OverrideAttr>,
    /// `table = "name"`.
    pub table: Once<LitStr>,
    /// `track_commit_time = bool`.
    pub track_commit_time: Once<LitBool>,
}

/// `persist_actor_primary_key(name, Destination, allow_nil = .., attribute_type = .., public = ..)`.
#[derive(Debug)]
pub(crate) struct ActorAttr {
    /// The column name.
    pub name: Ident,
    /// The actor type.
    pub destination: Path,
    /// The options after the two positional arguments.
    pub options: ActorOptions,
}

/// The named options of a `persist_actor_primary_key(..)`.
#[derive(Debug, Default)]
pub(crate) struct ActorOptions {
    /// `allow_nil = bool`.
    pub allow_nil: Once<LitBool>,
    /// `attribute_type = uuid | integer | string`.
    pub attribute_type: Once<Ident>,
    /// `public = bool`.
    pub public: Once<LitBool>,
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

/// The named options of a `replay_override(..)`.
#[derive(Debug, Default)]
struct OverrideOptions {
    versions: Once<Vec<LitInt>>,
    routes: Vec<(Path, Ident)>,
}

/// Parses the attribute's items, pushing every error into `acc`.
pub(crate) fn parse(items: &[NestedMeta], acc: &mut Accumulator) -> EventLogAttr {
    let mut out = EventLogAttr::default();
    for item in items {
        if let Some(meta) = acc.handle(options::option_meta(item, "primary_key_type = integer")) {
            OPTIONS.parse(&mut out, meta, acc);
        }
    }
    out
}

fn parse_actor(meta: &Meta, acc: &mut Accumulator) -> Option<ActorAttr> {
    let example = "user_id, User";
    let items = acc.handle(options::list(meta, "persist_actor_primary_key", example))?;
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
    let mut opts = ActorOptions::default();
    for item in items.iter().skip(2) {
        if let Some(opt) = acc.handle(options::option_meta(item, "allow_nil = true")) {
            ACTOR_OPTIONS.parse(&mut opts, opt, acc);
        }
    }
    Some(ActorAttr {
        name: name?,
        destination: destination?.clone(),
        options: opts,
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
    let items = acc.handle(options::list(meta, "replay_override", example))?;
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
    let mut opts = OverrideOptions::default();
    for item in items.iter().skip(2) {
        if let Some(opt) = acc.handle(options::option_meta(item, "versions = [1]")) {
            OVERRIDE_OPTIONS.parse(&mut opts, opt, acc);
        }
    }
    Some(OverrideAttr {
        span,
        resource: resource?.clone(),
        action: action?,
        versions: opts.versions.into_inner(),
        routes: opts.routes,
        malformed: false,
    })
}

/// `route_to(Resource, action)`.
fn parse_route(meta: &Meta, acc: &mut Accumulator) -> Option<(Path, Ident)> {
    let args = acc.handle(options::list(meta, "route_to", "User, create_v1"))?;
    let at = meta.span();
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
        acc.push(Error::custom("route_to takes exactly a resource and an action").with_span(extra));
    }
    Some((target?.clone(), action?))
}
