//! How stored events find the bodies that apply them: the registry of
//! resources `#[events]` fills at link time, and the route table a replay
//! resolves from it before anything is cleared. Public through [`crate::store`].
//!
//! For each stored (resource, action, version) the route is a matching
//! `replay_override`'s `route_to` targets, else the event's own action on a
//! registered resource. Every triple is resolved up front, so a missing route
//! ([`MissingRoute`]) is found before anything changes, never half-way through.

use std::any::TypeId;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::replay::MissingRoute;
use crate::{ActionInfo, EventLog, ReplayFn};

/// A resource as registered by `#[events]`: enough to dispatch its events.
#[derive(Debug)]
pub struct ResourceEntry {
    /// The resource's event log.
    pub log: fn() -> TypeId,
    /// Name stored in events.
    pub name: &'static str,
    /// Its actions.
    pub actions: &'static [ActionInfo],
    /// The replay entry point of an action, by name.
    pub replay_fn: fn(&str) -> Option<ReplayFn>,
}

inventory::collect!(ResourceEntry);

/// `TypeId::of::<T>`, as a function pointer a `ResourceEntry` can hold.
pub fn type_id_of<T: 'static>() -> TypeId {
    TypeId::of::<T>()
}

/// Every resource registered with event log `L`.
pub fn registered_resources<L: EventLog>() -> impl Iterator<Item = &'static ResourceEntry> {
    let log = TypeId::of::<L>();
    inventory::iter::<ResourceEntry>
        .into_iter()
        .filter(move |entry| (entry.log)() == log)
}

/// One body an event is applied with.
#[derive(Clone, Copy)]
pub struct RouteTarget {
    /// The target resource's name.
    pub resource: &'static str,
    /// The target action's name.
    pub action: &'static str,
    /// Its replay entry point.
    pub apply: ReplayFn,
}

impl fmt::Debug for RouteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.resource, self.action)
    }
}

/// Targets by resource, then action, then version.
type Routes = HashMap<String, HashMap<String, HashMap<u32, Vec<RouteTarget>>>>;

/// The bodies each stored (resource, action, version) is applied with.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Routes,
}

impl RouteTable {
    /// Resolves every triple: a matching `replay_override`'s targets, else the
    /// event's own action on a registered resource of `L`. Returns every triple
    /// without a route at once.
    ///
    /// `triples` maps (resource, action, version) to the number of events.
    pub fn resolve<L: EventLog>(
        triples: &BTreeMap<(String, String, u32), u64>,
    ) -> Result<RouteTable, Vec<MissingRoute>> {
        let mut by_name: HashMap<&'static str, Vec<&'static ResourceEntry>> = HashMap::new();
        for entry in registered_resources::<L>() {
            by_name.entry(entry.name).or_default().push(entry);
        }
        let mut routes: Routes = HashMap::new();
        let mut insert = |resource: &str, action: &str, version: u32, targets: Vec<RouteTarget>| {
            routes
                .entry(resource.to_owned())
                .or_default()
                .entry(action.to_owned())
                .or_default()
                .insert(version, targets);
        };
        let mut missing = Vec::new();
        for ((resource, action, version), &events) in triples {
            let miss = |reason: String| MissingRoute {
                resource: resource.clone(),
                action: action.clone(),
                version: *version,
                events,
                reason,
            };
            if let Some(o) = L::REPLAY_OVERRIDES
                .iter()
                .find(|o| o.matches(resource, action, *version))
            {
                let targets = o
                    .routes
                    .iter()
                    .map(|r| RouteTarget {
                        resource: r.resource,
                        action: r.action,
                        apply: r.apply,
                    })
                    .collect();
                insert(resource, action, *version, targets);
                continue;
            }
            let entries = by_name
                .get(resource.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default();
            let entry = match entries {
                [] => {
                    let known: Vec<&str> = by_name.keys().copied().collect();
                    missing.push(miss(format!(
                        "no resource named `{resource}` is registered with this event log (registered: {}); \
                         link the crate that declares it, or add a replay_override routing it",
                        if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                    )));
                    continue;
                }
                [one] => *one,
                _ => {
                    missing.push(miss(format!(
                        "{} resources are named `{resource}`; give each a distinct `name = \"..\"` in #[events]",
                        entries.len()
                    )));
                    continue;
                }
            };
            let Some(info) = entry.actions.iter().find(|a| a.name == action) else {
                let known: Vec<&str> = entry.actions.iter().map(|a| a.name).collect();
                missing.push(miss(format!(
                    "`{resource}` has no action `{action}` (actions: {}); keep the old action (in ignore_actions) \
                     or add `replay_override({resource}, {action}, versions = [{version}], route_to(..))`",
                    known.join(", ")
                )));
                continue;
            };
            if *version > info.version && info.recorded {
                missing.push(miss(format!(
                    "the event is newer than this code: `{resource}.{action}` is at version {}; \
                     replay with the code that wrote version {version}",
                    info.version
                )));
                continue;
            }
            match (entry.replay_fn)(action) {
                Some(apply) => {
                    insert(
                        resource,
                        action,
                        *version,
                        vec![RouteTarget {
                            resource: entry.name,
                            action: info.name,
                            apply,
                        }],
                    );
                }
                None => missing.push(miss(format!(
                    "`{resource}.{action}` has no replay entry point"
                ))),
            }
        }
        if missing.is_empty() {
            Ok(RouteTable { routes })
        } else {
            Err(missing)
        }
    }

    /// The targets of a stored triple; empty if it was not resolved.
    pub fn targets(&self, resource: &str, action: &str, version: u32) -> &[RouteTarget] {
        self.routes
            .get(resource)
            .and_then(|actions| actions.get(action))
            .and_then(|versions| versions.get(&version))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}
