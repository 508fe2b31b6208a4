//! Parses `#[events(...)]` and finds the action methods of the `impl` block, syntax only.

use darling::ast::NestedMeta;
use darling::error::Accumulator;
use darling::{Error, FromMeta};
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::{Ident, ImplItem, ItemImpl, LitInt, LitStr, Meta, Path, Token};

use crate::common::{self, IdentList};

/// Options `#[events]` takes.
pub(crate) const OPTIONS: &[&str] = &[
    "event_log",
    "ignore_actions",
    "only_actions",
    "current_action_versions",
    "name",
    "advisory_lock_scope",
];

/// `#[events(...)]` as written.
#[derive(Debug, Default)]
pub(crate) struct EventsAttr {
    /// `event_log = Type`.
    pub event_log: Option<Path>,
    /// Whether `event_log` was written at all, even malformed: a malformed one is
    /// reported once, as malformed, not again as missing.
    pub event_log_written: bool,
    /// `ignore_actions = [..]`, with the option's name for errors.
    pub ignore_actions: Option<(Ident, Vec<Ident>)>,
    /// `only_actions = [..]`, with the option's name for errors.
    pub only_actions: Option<(Ident, Vec<Ident>)>,
    /// `current_action_versions(action = N, ..)`.
    pub current_action_versions: Vec<(Ident, LitInt)>,
    /// `name = ".."`.
    pub name: Option<LitStr>,
    /// `advisory_lock_scope = global | tenant | record`.
    pub advisory_lock_scope: Option<Ident>,
}

/// Which action attribute marks a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Create,
    Update,
    Destroy,
}

impl Kind {
    /// The marker attribute for `ident`, if it is one.
    pub(crate) fn from_ident(ident: &Ident) -> Option<Kind> {
        match ident.to_string().as_str() {
            "create" => Some(Kind::Create),
            "update" => Some(Kind::Update),
            "destroy" => Some(Kind::Destroy),
            _ => None,
        }
    }
}

/// A method marked `#[create]`, `#[update]` or `#[destroy]`.
#[derive(Debug, Clone)]
pub(crate) struct ActionSyntax {
    /// Index of the method in `ItemImpl::items`.
    pub index: usize,
    /// The marker's kind.
    pub kind: Kind,
}

/// A method marked `#[bulk(action)]`: the bulk form of `action`.
#[derive(Debug)]
pub(crate) struct BulkSyntax {
    /// Index of the method in `ItemImpl::items`.
    pub index: usize,
    /// The action it is the bulk form of, as written.
    pub target: Ident,
}

/// Parses the attribute's items, pushing every error into `acc`.
pub(crate) fn parse(items: &[NestedMeta], acc: &mut Accumulator) -> EventsAttr {
    let mut out = EventsAttr::default();
    for item in items {
        let Some(meta) = acc.handle(common::option_meta(item, "event_log = EventLog")) else {
            continue;
        };
        let name = common::option_name(meta);
        match name.as_str() {
            "event_log" => {
                out.event_log_written = true;
                let v = common::name_value(meta, &name, "EventLog").and_then(Path::from_expr);
                if let Some(v) = acc.handle(v) {
                    common::set_once(&mut out.event_log, v, &name, meta, acc);
                }
            }
            "ignore_actions" | "only_actions" => {
                let v =
                    common::name_value(meta, &name, "[create_v1]").and_then(IdentList::from_expr);
                let key = meta.path().get_ident().cloned();
                if let (Some(v), Some(key)) = (acc.handle(v), key) {
                    let slot = if name == "ignore_actions" {
                        &mut out.ignore_actions
                    } else {
                        &mut out.only_actions
                    };
                    common::set_once(slot, (key, v.0), &name, meta, acc);
                }
            }
            "current_action_versions" => {
                if !out.current_action_versions.is_empty() {
                    acc.push(
                        Error::custom("duplicate option `current_action_versions`; give it once")
                            .with_span(meta),
                    );
                    continue;
                }
                out.current_action_versions = versions(meta, acc);
            }
            "name" => {
                let v = common::name_value(meta, &name, "\"accounts.user\"").and_then(|e| {
                    <LitStr as FromMeta>::from_expr(e).map_err(|err| err.with_span(e))
                });
                if let Some(v) = acc.handle(v) {
                    common::set_once(&mut out.name, v, &name, meta, acc);
                }
            }
            "advisory_lock_scope" => {
                let v = common::name_value(meta, &name, "record").and_then(common::Word::from_expr);
                if let Some(v) = acc.handle(v) {
                    common::set_once(&mut out.advisory_lock_scope, v.0, &name, meta, acc);
                }
            }
            other => acc.push(common::unknown(
                "#[events] option",
                other,
                OPTIONS,
                meta.path(),
            )),
        }
    }
    out
}

/// `current_action_versions(create = 2, update = 3)`.
fn versions(meta: &Meta, acc: &mut Accumulator) -> Vec<(Ident, LitInt)> {
    let Some(items) = acc.handle(common::list(
        meta,
        "current_action_versions",
        "create = 2, update = 3",
    )) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in &items {
        let pair = match item {
            NestedMeta::Meta(Meta::NameValue(nv)) => match (nv.path.get_ident(), &nv.value) {
                (
                    Some(action),
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Int(v),
                        ..
                    }),
                ) => Some((action.clone(), v.clone())),
                _ => None,
            },
            _ => None,
        };
        match pair {
            Some(pair) => out.push(pair),
            None => acc.push(
                Error::custom("expected `action = version`, like `create = 2`").with_span(item),
            ),
        }
    }
    out
}

/// Finds the action methods and removes their marker attributes. A method with
/// more than one marker, or a marker with arguments, is an error.
pub(crate) fn take_actions(item: &mut ItemImpl, acc: &mut Accumulator) -> Vec<ActionSyntax> {
    let mut out = Vec::new();
    for (index, impl_item) in item.items.iter_mut().enumerate() {
        let ImplItem::Fn(method) = impl_item else {
            continue;
        };
        let mut kind = None;
        method.attrs.retain(|attr| {
            let Some(k) = attr.path().get_ident().and_then(Kind::from_ident) else {
                return true;
            };
            if !matches!(attr.meta, Meta::Path(_)) {
                acc.push(
                    Error::custom("action markers take no arguments; write `#[create]`, `#[update]` or `#[destroy]`")
                        .with_span(&attr.meta),
                );
            }
            if kind.is_some() {
                acc.push(
                    Error::custom("a method is one action: keep one of `#[create]`, `#[update]`, `#[destroy]`")
                        .with_span(attr.path()),
                );
            } else {
                kind = Some(k);
            }
            false
        });
        if let Some(kind) = kind {
            out.push(ActionSyntax { index, kind });
        }
    }
    out
}

/// Finds the methods marked `#[bulk(action)]` and removes the markers. A marker
/// without exactly one action name, or two markers on one method, is an error.
pub(crate) fn take_bulks(item: &mut ItemImpl, acc: &mut Accumulator) -> Vec<BulkSyntax> {
    let mut out = Vec::new();
    for (index, impl_item) in item.items.iter_mut().enumerate() {
        let ImplItem::Fn(method) = impl_item else {
            continue;
        };
        let mut target: Option<Ident> = None;
        let mut seen = false;
        method.attrs.retain(|attr| {
            if !attr.path().is_ident("bulk") {
                return true;
            }
            if seen {
                acc.push(
                    Error::custom(
                        "a method is the bulk form of one action: keep one `#[bulk(..)]`",
                    )
                    .with_span(attr.path()),
                );
                return false;
            }
            seen = true;
            // Any identifier, keywords included: `#[bulk(crate)]` is a typo to
            // report with a suggestion, not a syntax error.
            let names = attr.parse_args_with(|input: syn::parse::ParseStream<'_>| {
                Punctuated::<Ident, Token![,]>::parse_terminated_with(input, Ident::parse_any)
            });
            match names.as_ref().map(|n| n.iter().collect::<Vec<_>>()) {
                Ok(names) if names.len() == 1 => target = Some(names[0].clone()),
                Ok(names) if names.len() > 1 => acc.push(
                    Error::custom(format!(
                        "`#[bulk(..)]` names the one action it is the bulk form of, found {}; write one bulk method per action",
                        names.len()
                    ))
                    .with_span(names[1]),
                ),
                _ => acc.push(
                    Error::custom("`#[bulk]` names the action it is the bulk form of, like `#[bulk(create)]`")
                        .with_span(&attr.meta),
                ),
            }
            false
        });
        if let Some(target) = target {
            out.push(BulkSyntax { index, target });
        }
    }
    out
}
