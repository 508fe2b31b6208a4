//! Parses `#[events(...)]` and finds the action methods of the `impl` block, syntax only.

use darling::ast::NestedMeta;
use darling::error::Accumulator;
use darling::{Error, FromMeta};
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::{Ident, ImplItem, ItemImpl, LitInt, LitStr, Meta, Path, Token};

use crate::common::{self, IdentList};
use crate::options::{self, Once, Opt, Options};

/// Options `#[events]` takes.
const OPTIONS: Options<EventsAttr> = Options {
    what: "#[events] option",
    table: &[
        Opt {
            name: "event_log",
            parse: |a, m, acc| {
                a.event_log_written = true;
                options::set_value(&mut a.event_log, m, "EventLog", Path::from_expr, acc);
            },
        },
        Opt {
            name: "ignore_actions",
            parse: |a, m, acc| action_list(&mut a.ignore_actions, m, acc),
        },
        Opt {
            name: "only_actions",
            parse: |a, m, acc| action_list(&mut a.only_actions, m, acc),
        },
        Opt {
            name: "current_action_versions",
            parse: |a, m, acc| {
                if let Some(v) = versions(m, acc) {
                    a.current_action_versions.set(v, m.path(), acc);
                }
            },
        },
        Opt {
            name: "name",
            parse: |a, m, acc| {
                options::set_value(
                    &mut a.name,
                    m,
                    "\"accounts.user\"",
                    |e| <LitStr as FromMeta>::from_expr(e).map_err(|err| err.with_span(e)),
                    acc,
                );
            },
        },
        Opt {
            name: "advisory_lock_scope",
            parse: |a, m, acc| {
                options::set_value(
                    &mut a.advisory_lock_scope,
                    m,
                    "record",
                    |e| common::Word::from_expr(e).map(|w| w.0),
                    acc,
                );
            },
        },
    ],
    hints: &[],
};

/// `#[events(...)]` as written.
#[derive(Debug, Default)]
pub(crate) struct EventsAttr {
    /// `event_log = Type`.
    pub event_log: Once<Path>,
    /// Whether `event_log` was written at all, even malformed: a malformed one is
    /// reported once, as malformed, not again as missing.
    pub event_log_written: bool,
    /// `ignore_actions = [..]`, with the option's name for errors.
    pub ignore_actions: Once<(Ident, Vec<Ident>)>,
    /// `only_actions = [..]`, with the option's name for errors.
    pub only_actions: Once<(Ident, Vec<Ident>)>,
    /// `current_action_versions(action = N, ..)`.
    pub current_action_versions: Once<Vec<(Ident, LitInt)>>,
    /// `name = ".."`.
    pub name: Once<LitStr>,
    /// `advisory_lock_scope = global | tenant | record`.
    pub advisory_lock_scope: Once<Ident>,
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
#[derive(Debug, Clone)]
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
        if let Some(meta) = acc.handle(options::option_meta(item, "event_log = EventLog")) {
            OPTIONS.parse(&mut out, meta, acc);
        }
    }
    out
}

/// `ignore_actions = [..]` or `only_actions = [..]`, kept with the option's name.
fn action_list(slot: &mut Once<(Ident, Vec<Ident>)>, meta: &Meta, acc: &mut Accumulator) {
    let list = options::name_value(meta, &options::option_name(meta), "[create_v1]")
        .and_then(IdentList::from_expr);
    if let (Some(list), Some(key)) = (acc.handle(list), meta.path().get_ident()) {
        slot.set((key.clone(), list.0), meta.path(), acc);
    }
}

/// `current_action_versions(create = 2, update = 3)`.
fn versions(meta: &Meta, acc: &mut Accumulator) -> Option<Vec<(Ident, LitInt)>> {
    let items = acc.handle(options::list(
        meta,
        "current_action_versions",
        "create = 2, update = 3",
    ))?;
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
    Some(out)
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
