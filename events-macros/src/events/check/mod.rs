//! Checks `#[events(...)]` against the actions of the `impl` block and builds the
//! model the expansion reads. Each rule is its own function; all of them run.

use std::collections::{HashMap, HashSet};

use darling::Error;
use darling::error::Accumulator;
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Ident, ImplItem, ImplItemFn, ItemImpl, Path, Type};

mod signature;

use crate::common;
use crate::events::attr::{ActionSyntax, BulkSyntax, EventsAttr, Kind};
use signature::{Shape, signature, type_text, vec_element};

/// The checked configuration.
#[derive(Debug)]
pub(crate) struct EventsModel {
    /// `event_log = ..`; `None` when missing (already reported).
    pub event_log: Option<Path>,
    /// Name stored in events.
    pub name: String,
    /// The well-formed actions, in declaration order.
    pub actions: Vec<ActionModel>,
    /// Versions configured with `current_action_versions`.
    pub configured_versions: Vec<(String, u32)>,
    /// `advisory_lock_scope`, overriding the event log's.
    pub lock_scope: Option<common::Scope>,
    /// The well-formed bulk forms, in declaration order.
    pub bulks: Vec<BulkModel>,
    /// Indices of the methods that repeat an earlier action's or bulk method's name
    /// (reported): left out of the model, renamed out of the way by the expansion.
    pub duplicates: Vec<usize>,
}

/// One well-formed `#[bulk(action)]` method.
#[derive(Debug)]
pub(crate) struct BulkModel {
    /// Index of the method in the impl block.
    pub index: usize,
    /// The method's name.
    pub ident: Ident,
    /// Index of the action it is the bulk form of, in [`EventsModel::actions`].
    pub target: usize,
    /// The `ctx` parameter's type.
    pub ctx_ty: Type,
    /// `Input`.
    pub input_ty: Type,
    /// The return type.
    pub ret_ty: Type,
}

/// One well-formed action.
#[derive(Debug)]
pub(crate) struct ActionModel {
    /// Index of the method in the impl block.
    pub index: usize,
    /// The method's name.
    pub ident: Ident,
    /// Its marker.
    pub kind: Kind,
    /// Version written to its events.
    pub version: u32,
    /// Whether it is recorded (not ignored).
    pub recorded: bool,
    /// The `ctx` parameter's type.
    pub ctx_ty: Type,
    /// The input parameter's type.
    pub input_ty: Type,
    /// The return type.
    pub ret_ty: Type,
}

/// Runs every rule.
pub(crate) fn check(
    item: &ItemImpl,
    attr: &EventsAttr,
    actions: &[ActionSyntax],
    bulks: &[BulkSyntax],
    acc: &mut Accumulator,
) -> EventsModel {
    impl_is_inherent_and_plain(item, acc);
    // A method marked both ways is reported by `bulk_models`; it is neither.
    let both = |index: usize| {
        actions.iter().any(|a| a.index == index) && bulks.iter().any(|b| b.index == index)
    };
    let duplicates = names_unique(item, actions, bulks, &both, acc);
    let all_actions: Vec<ActionSyntax> = actions
        .iter()
        .filter(|a| !duplicates.contains(&a.index))
        .cloned()
        .collect();
    let bulks: Vec<BulkSyntax> = bulks
        .iter()
        .filter(|b| !duplicates.contains(&b.index))
        .cloned()
        .collect();
    let actions: Vec<ActionSyntax> = all_actions
        .iter()
        .filter(|a| !both(a.index))
        .cloned()
        .collect();
    let actions = actions.as_slice();
    if !attr.event_log.is_set() && !attr.event_log_written {
        acc.push(Error::custom("#[events] needs the event log that records these actions: add `event_log = YourEventLog`").with_span(&Span::call_site()));
    }
    let names: Vec<String> = actions
        .iter()
        .filter_map(|a| method(item, a.index))
        .map(|m| m.sig.ident.to_string())
        .collect();
    let known: Vec<&str> = names.iter().map(String::as_str).collect();
    if let Some((key, list)) = attr.ignore_actions.get() {
        names_exist(key, list, &known, acc);
    }
    if let Some((key, list)) = attr.only_actions.get() {
        names_exist(key, list, &known, acc);
    }
    ignore_and_only_exclusive(attr, acc);
    let ignored = ignored_set(attr, &known);
    let configured_versions = versions_valid(attr, &known, &ignored, acc);
    let name = resource_name(item, attr, acc);

    let mut models = Vec::new();
    for a in actions {
        let Some(m) = method(item, a.index) else {
            continue;
        };
        let Some((ctx_ty, input_ty, ret_ty)) = signature(m, Shape::Action, acc) else {
            continue;
        };
        let ident = m.sig.ident.clone();
        let n = ident.to_string();
        let version = configured_versions
            .iter()
            .find(|(a, _)| *a == n)
            .map_or(1, |(_, v)| *v);
        models.push(ActionModel {
            index: a.index,
            recorded: !ignored.contains(&n),
            ident,
            kind: a.kind,
            version,
            ctx_ty,
            input_ty,
            ret_ty,
        });
    }
    no_actions_is_an_error(item, actions, acc);
    let bulks = bulk_models(item, &all_actions, &bulks, &known, &models, acc);
    let lock_scope = attr
        .advisory_lock_scope
        .get()
        .and_then(|w| acc.handle(common::Scope::parse(w)));
    EventsModel {
        lock_scope,
        event_log: attr.event_log.get().cloned(),
        name,
        actions: models,
        configured_versions,
        bulks,
        duplicates,
    }
}

// Each action and bulk method has a name of its own in the impl block: the name is
// its wrapper's. A later method with an earlier one's name is reported on its name
// and left out (its index returned), so nothing is generated twice.
fn names_unique(
    item: &ItemImpl,
    actions: &[ActionSyntax],
    bulks: &[BulkSyntax],
    both: &dyn Fn(usize) -> bool,
    acc: &mut Accumulator,
) -> Vec<usize> {
    let mut marked: Vec<(usize, bool)> = actions
        .iter()
        .map(|a| (a.index, false))
        .chain(bulks.iter().map(|b| (b.index, true)))
        .filter(|(index, _)| !both(*index))
        .collect();
    marked.sort_unstable();
    let mut seen: HashMap<String, bool> = HashMap::new();
    let mut duplicates = Vec::new();
    for (index, bulk) in marked {
        let Some(m) = method(item, index) else {
            continue;
        };
        let name = m.sig.ident.to_string();
        let Some(&first_bulk) = seen.get(&name) else {
            seen.insert(name, bulk);
            continue;
        };
        let message = match (first_bulk, bulk) {
            (false, false) => {
                format!("action `{name}` is defined twice in this impl block; rename or remove one")
            }
            (true, true) => format!(
                "bulk action `{name}` is defined twice in this impl block; rename or remove one"
            ),
            (false, true) => format!(
                "bulk action `{name}` has the name of the action `{name}` above; give it a name of its own, like `{name}_many`"
            ),
            (true, false) => format!(
                "action `{name}` has the name of the bulk action `{name}` above; rename one of them"
            ),
        };
        acc.push(Error::custom(message).with_span(&m.sig.ident));
        duplicates.push(index);
    }
    duplicates
}

// A bulk method names an action of this impl block, is not itself an action, has
// the action shape with a `BulkCtx` and takes a `Vec` of inputs.
fn bulk_models(
    item: &ItemImpl,
    actions: &[ActionSyntax],
    bulks: &[BulkSyntax],
    known: &[&str],
    models: &[ActionModel],
    acc: &mut Accumulator,
) -> Vec<BulkModel> {
    let mut out = Vec::new();
    for b in bulks {
        let Some(m) = method(item, b.index) else {
            continue;
        };
        let name = &m.sig.ident;
        if actions.iter().any(|a| a.index == b.index) {
            acc.push(
                Error::custom(format!(
                    "`{name}` is marked both as an action and as the bulk form of `{}`: a method is either an action or the bulk form of one; drop one of the markers",
                    b.target
                ))
                .with_span(name),
            );
            continue;
        }
        let target = b.target.to_string();
        if !known.contains(&target.as_str()) {
            acc.push(unknown_action(&target, &"#[bulk(..)]", known, &b.target));
            continue;
        }
        let Some((ctx_ty, inputs_ty, ret_ty)) = signature(m, Shape::Bulk, acc) else {
            continue;
        };
        let Some(input_ty) = vec_element(&inputs_ty) else {
            let input = models
                .iter()
                .find(|a| a.ident == target)
                .map_or_else(|| "Input".to_owned(), |a| type_text(&a.input_ty));
            acc.push(
                Error::custom(format!(
                    "bulk action `{name}` takes all the inputs of `{target}` at once, as a `Vec` of its input type: write `inputs: Vec<{input}>`"
                ))
                .with_span(&inputs_ty),
            );
            continue;
        };
        // A target whose own signature is wrong was reported already.
        let Some(target) = models.iter().position(|a| a.ident == target) else {
            continue;
        };
        out.push(BulkModel {
            index: b.index,
            ident: name.clone(),
            target,
            ctx_ty,
            input_ty,
            ret_ty,
        });
    }
    out
}

fn method(item: &ItemImpl, index: usize) -> Option<&ImplItemFn> {
    match item.items.get(index) {
        Some(ImplItem::Fn(m)) => Some(m),
        _ => None,
    }
}

// #[events] is on an inherent, non-generic impl of a named type.
fn impl_is_inherent_and_plain(item: &ItemImpl, acc: &mut Accumulator) {
    if let Some((path, _)) = &item.trait_ {
        acc.push(
            Error::custom("#[events] goes on the resource's inherent impl block (`impl User { .. }`), not on a trait impl")
                .with_span(path),
        );
    }
    if !item.generics.params.is_empty() {
        acc.push(Error::custom("#[events] does not support generic impl blocks; recorded resources are concrete types").with_span(&item.generics));
    }
}

// Every action an option names is a method marked #[create], #[update] or #[destroy]; none twice.
fn names_exist(key: &Ident, list: &[Ident], known: &[&str], acc: &mut Accumulator) {
    let mut seen = HashSet::new();
    for ident in list {
        let n = ident.to_string();
        if !known.contains(&n.as_str()) {
            acc.push(unknown_action(&n, key, known, ident));
        } else if !seen.insert(n.clone()) {
            acc.push(
                Error::custom(format!("action `{n}` is listed twice in {key}")).with_span(ident),
            );
        }
    }
}

fn unknown_action(
    name: &str,
    option: &impl std::fmt::Display,
    known: &[&str],
    at: &impl Spanned,
) -> Error {
    let here = if known.is_empty() {
        "none; mark methods with #[create], #[update] or #[destroy]".to_owned()
    } else {
        known.join(", ")
    };
    let hint = crate::options::did_you_mean(name, known)
        .map(|k| format!("; did you mean `{k}`?"))
        .unwrap_or_default();
    Error::custom(format!(
        "unknown action `{name}` in {option}; actions here: {here}{hint}"
    ))
    .with_span(&at.span())
}

// ignore_actions and only_actions are two ways to say the same thing: pick one.
fn ignore_and_only_exclusive(attr: &EventsAttr, acc: &mut Accumulator) {
    if let (Some(_), Some((only, _))) = (attr.ignore_actions.get(), attr.only_actions.get()) {
        acc.push(
            Error::custom("only_actions and ignore_actions exclude each other; keep one (only_actions lists the recorded actions, ignore_actions the others)")
                .with_span(only),
        );
    }
}

fn ignored_set(attr: &EventsAttr, known: &[&str]) -> HashSet<String> {
    match (attr.only_actions.get(), attr.ignore_actions.get()) {
        (Some((_, only)), _) => {
            let only: HashSet<String> = only.iter().map(ToString::to_string).collect();
            known
                .iter()
                .filter(|k| !only.contains(**k))
                .map(|k| (*k).to_owned())
                .collect()
        }
        (None, Some((_, ignore))) => ignore.iter().map(ToString::to_string).collect(),
        (None, None) => HashSet::new(),
    }
}

// current_action_versions names existing, recorded actions, once each, with versions of 1 or more.
fn versions_valid(
    attr: &EventsAttr,
    known: &[&str],
    ignored: &HashSet<String>,
    acc: &mut Accumulator,
) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = Vec::new();
    for (ident, lit) in attr.current_action_versions.get().into_iter().flatten() {
        let n = ident.to_string();
        if !known.contains(&n.as_str()) {
            acc.push(unknown_action(&n, &"current_action_versions", known, ident));
            continue;
        }
        if ignored.contains(&n) {
            acc.push(
                Error::custom(format!("action `{n}` is ignored, so it writes no events and has no version; remove it from current_action_versions"))
                    .with_span(ident),
            );
            continue;
        }
        if out.iter().any(|(a, _)| *a == n) {
            acc.push(
                Error::custom(format!(
                    "action `{n}` is listed twice in current_action_versions"
                ))
                .with_span(ident),
            );
            continue;
        }
        if let Some(v) = acc.handle(common::version(lit, &format!("the version of `{n}`"))) {
            out.push((n, v));
        }
    }
    out
}

// The stored resource name is given or the type's own name, never empty.
fn resource_name(item: &ItemImpl, attr: &EventsAttr, acc: &mut Accumulator) -> String {
    if let Some(lit) = attr.name.get() {
        let v = lit.value();
        if v.trim().is_empty() || v.trim() != v {
            acc.push(Error::custom("name must be a non-empty name without surrounding spaces, like `\"accounts.user\"`").with_span(lit));
        }
        return v;
    }
    match &*item.self_ty {
        Type::Path(p) if p.qself.is_none() => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        other => {
            acc.push(
                Error::custom("#[events] needs a named type, like `impl User { .. }`")
                    .with_span(other),
            );
            String::new()
        }
    }
}

// An inherent impl block with #[events] and no action is almost certainly a mistake
// (a trait impl is already reported as the wrong place).
fn no_actions_is_an_error(item: &ItemImpl, actions: &[ActionSyntax], acc: &mut Accumulator) {
    if actions.is_empty() && item.trait_.is_none() {
        acc.push(
            Error::custom("#[events] found no action in this impl block; mark action methods with #[create], #[update] or #[destroy]")
                .with_span(&item.self_ty),
        );
    }
}
