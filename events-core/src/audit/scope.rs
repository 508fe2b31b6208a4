//! What one viewer may read: a [`Scope`], applied by the store inside every
//! statement a scoped audit log runs (`events_postgres::AuditLog::scoped`).
//!
//! A scope narrows; it never widens. [`Scope::everything`] (the default) reads
//! the whole log, each `only_*` call adds a constraint that every entry read
//! must meet (calling one twice keeps only what both allow), and each `hide_*`
//! call removes fields from what is returned. Scoping an already scoped log
//! combines both scopes the same way ([`Scope::and`]).
//!
//! Because the constraints are conditions of the query itself, counts, pages,
//! keyset cursors, facets, typeahead and followers all see the same rows, and a
//! hidden field is removed by the statement that reads it: it is never loaded
//! into the process, let alone into a response.

use serde_json::Value;

use super::{ActionMatch, Filters, MAX_NAME_LEN};
use crate::{AuditError, Error, Key};

/// What a viewer may read of the audit log: which resources, tenants and
/// actions, and which fields of data, metadata and recorded changes are hidden.
///
/// ```
/// use events_core::audit::Scope;
///
/// // Support staff: one tenant, posts and comments only, never an email.
/// let support = Scope::everything()
///     .only_tenants(["acme"])
///     .only_actions(["post.*", "comment.*"])
///     .hide_fields(["email"])
///     .hide_metadata_fields(["ip_address", "user_agent"]);
/// assert!(!support.is_everything());
/// assert!(Scope::everything().is_everything());
///
/// // Nothing at all: an empty list allows no value.
/// let nobody = Scope::everything().only_tenants(Vec::<String>::new());
/// assert!(nobody.denies_everything());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    resources: Vec<Vec<String>>,
    tenants: Vec<Vec<String>>,
    actions: Vec<Vec<ActionMatch>>,
    hidden: HiddenFields,
}

/// The fields a [`Scope`] hides, by where they are stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HiddenFields {
    /// Paths removed from each entry's `data` (the action's input).
    pub data: Vec<FieldPath>,
    /// Paths removed from each entry's `metadata`; filters on these keys are
    /// refused.
    pub metadata: Vec<FieldPath>,
    /// Paths removed from recorded changes: old, new and diff values alike.
    pub changes: Vec<FieldPath>,
}

impl HiddenFields {
    /// True when nothing is hidden.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty() && self.metadata.is_empty() && self.changes.is_empty()
    }
}

/// A path to a field inside a JSON object: `"email"` is the top-level key
/// `email`, `"address.street"` the key `street` of the object under `address`.
/// A key that itself contains a dot is given with [`FieldPath::from_segments`].
///
/// A path leads through objects only: it does not address keys inside the
/// elements of an array (`items.email` hides nothing in
/// `{"items": [{"email": ..}]}`). Hide the whole array (`items`) instead.
///
/// ```
/// use events_core::audit::FieldPath;
/// assert_eq!(FieldPath::from("address.street").segments(), ["address", "street"]);
/// assert_eq!(FieldPath::from_segments(["a.b"]).segments(), ["a.b"]);
/// assert!(FieldPath::from("email").is_top_level());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath(Vec<String>);

impl FieldPath {
    /// A path from its keys, outermost first.
    pub fn from_segments<I, S>(segments: I) -> FieldPath
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        FieldPath(segments.into_iter().map(Into::into).collect())
    }

    /// The keys, outermost first.
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// True for a key of the object itself (one segment).
    pub fn is_top_level(&self) -> bool {
        self.0.len() == 1
    }

    /// The path as written, segments joined with dots.
    pub fn dotted(&self) -> String {
        self.0.join(".")
    }
}

impl From<&str> for FieldPath {
    fn from(path: &str) -> FieldPath {
        FieldPath(path.split('.').map(str::to_owned).collect())
    }
}

impl From<String> for FieldPath {
    fn from(path: String) -> FieldPath {
        FieldPath::from(path.as_str())
    }
}

impl Scope {
    /// The whole log, nothing hidden: the scope an unscoped audit log reads with.
    pub fn everything() -> Scope {
        Scope::default()
    }

    /// Only entries of these resources (entries without a resource, such as
    /// manual entries that name none, are excluded). An empty list allows none.
    ///
    /// ```
    /// use events_core::audit::Scope;
    /// let s = Scope::everything().only_resources(["post", "comment"]).only_resources(["post"]);
    /// assert_eq!(s.resource_constraints().len(), 2); // both must hold: posts only
    /// ```
    #[must_use]
    pub fn only_resources<I, S>(mut self, resources: I) -> Scope
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.resources
            .push(resources.into_iter().map(Into::into).collect());
        self
    }

    /// Only entries of these tenants (compared as text, like the `tenant`
    /// filter; entries without a tenant are excluded). An empty list allows none.
    ///
    /// ```
    /// use events_core::audit::Scope;
    /// let s = Scope::everything().only_tenants(["acme"]);
    /// assert_eq!(s.tenant_constraints(), [vec!["acme".to_owned()]]);
    /// ```
    #[must_use]
    pub fn only_tenants<I, K>(mut self, tenants: I) -> Scope
    where
        I: IntoIterator<Item = K>,
        K: Into<Key>,
    {
        self.tenants
            .push(tenants.into_iter().map(|t| t.into().to_string()).collect());
        self
    }

    /// Only entries whose action matches one of these patterns:
    /// `"post.*"` is a prefix, anything else an exact name (as
    /// [`ActionMatch::pattern`]). An empty list allows none.
    ///
    /// ```
    /// use events_core::audit::{ActionMatch, Scope};
    /// let s = Scope::everything().only_actions(["post.*", "user.login"]);
    /// assert_eq!(s.action_constraints()[0][0], ActionMatch::Prefix("post.".into()));
    /// ```
    #[must_use]
    pub fn only_actions<I, S>(mut self, patterns: I) -> Scope
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.actions.push(
            patterns
                .into_iter()
                .map(|p| ActionMatch::pattern(p.as_ref()))
                .collect(),
        );
        self
    }

    /// Hides these fields of the action's input (`data`).
    #[must_use]
    pub fn hide_data_fields<I, P>(mut self, paths: I) -> Scope
    where
        I: IntoIterator<Item = P>,
        P: Into<FieldPath>,
    {
        self.hidden.data.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Hides these metadata keys; filters on them (`metadata` containment,
    /// `request_id`, `mode`, `module`, targets) are then refused, so a hidden
    /// value cannot be guessed through counts.
    #[must_use]
    pub fn hide_metadata_fields<I, P>(mut self, paths: I) -> Scope
    where
        I: IntoIterator<Item = P>,
        P: Into<FieldPath>,
    {
        self.hidden
            .metadata
            .extend(paths.into_iter().map(Into::into));
        self
    }

    /// Hides these fields of recorded changes (old, new and diff values).
    #[must_use]
    pub fn hide_change_fields<I, P>(mut self, paths: I) -> Scope
    where
        I: IntoIterator<Item = P>,
        P: Into<FieldPath>,
    {
        self.hidden
            .changes
            .extend(paths.into_iter().map(Into::into));
        self
    }

    /// Hides these fields wherever a record's values are stored: the action's
    /// input (`data`) and recorded changes. (Metadata keys are hidden with
    /// [`hide_metadata_fields`](Self::hide_metadata_fields).)
    ///
    /// ```
    /// use events_core::audit::Scope;
    /// let s = Scope::everything().hide_fields(["email"]);
    /// assert_eq!(s.hidden().data, s.hidden().changes);
    /// assert!(s.hidden().metadata.is_empty());
    /// ```
    #[must_use]
    pub fn hide_fields<I, P>(self, paths: I) -> Scope
    where
        I: IntoIterator<Item = P>,
        P: Into<FieldPath>,
    {
        let paths: Vec<FieldPath> = paths.into_iter().map(Into::into).collect();
        self.hide_data_fields(paths.clone())
            .hide_change_fields(paths)
    }

    /// Both scopes at once: every constraint of each, every hidden field of each.
    ///
    /// ```
    /// use events_core::audit::Scope;
    /// let a = Scope::everything().only_tenants(["acme"]);
    /// let b = Scope::everything().only_tenants(["globex"]);
    /// assert!(!a.clone().and(b).is_everything()); // acme and globex: nothing
    /// assert_eq!(Scope::everything().and(a.clone()), a);
    /// ```
    #[must_use]
    pub fn and(mut self, other: Scope) -> Scope {
        self.resources.extend(other.resources);
        self.tenants.extend(other.tenants);
        self.actions.extend(other.actions);
        self.hidden.data.extend(other.hidden.data);
        self.hidden.metadata.extend(other.hidden.metadata);
        self.hidden.changes.extend(other.hidden.changes);
        self
    }

    /// True when the scope constrains nothing and hides nothing.
    pub fn is_everything(&self) -> bool {
        self == &Scope::default()
    }

    /// True when the scope has no rows to constrain: no constraint applies.
    pub fn constrains_rows(&self) -> bool {
        !(self.resources.is_empty() && self.tenants.is_empty() && self.actions.is_empty())
    }

    /// True when some constraint is an empty list: no entry can be read.
    pub fn denies_everything(&self) -> bool {
        self.resources.iter().any(Vec::is_empty)
            || self.tenants.iter().any(Vec::is_empty)
            || self.actions.iter().any(Vec::is_empty)
    }

    /// The resource constraints: an entry's resource must be in each list.
    pub fn resource_constraints(&self) -> &[Vec<String>] {
        &self.resources
    }

    /// The tenant constraints (as text): an entry's tenant must be in each list.
    pub fn tenant_constraints(&self) -> &[Vec<String>] {
        &self.tenants
    }

    /// The action constraints: an entry's action must match one of each list.
    pub fn action_constraints(&self) -> &[Vec<ActionMatch>] {
        &self.actions
    }

    /// The hidden fields.
    pub fn hidden(&self) -> &HiddenFields {
        &self.hidden
    }

    /// True when metadata key `key` (top level) is hidden, or a path under it.
    pub fn hides_metadata_key(&self, key: &str) -> bool {
        self.hidden
            .metadata
            .iter()
            .any(|p| p.segments().first().is_some_and(|k| k == key))
    }

    /// Checks the scope's own values: names and paths must be sendable (no NUL
    /// character, at most [`MAX_NAME_LEN`] bytes, no empty path segment).
    ///
    /// ```
    /// use events_core::audit::Scope;
    /// assert!(Scope::everything().hide_fields(["a..b"]).check().is_err());
    /// assert!(Scope::everything().only_resources(["post"]).check().is_ok());
    /// ```
    pub fn check(&self) -> Result<(), Error> {
        let names = self
            .resources
            .iter()
            .flatten()
            .map(|r| ("scope.resources", r.as_str()))
            .chain(
                self.tenants
                    .iter()
                    .flatten()
                    .map(|t| ("scope.tenants", t.as_str())),
            )
            .chain(self.actions.iter().flatten().map(|a| match a {
                ActionMatch::Exact(n) | ActionMatch::Prefix(n) => ("scope.actions", n.as_str()),
            }));
        for (field, name) in names {
            check_name(field, name)?;
        }
        for (field, paths) in [
            ("scope.hidden.data", &self.hidden.data),
            ("scope.hidden.metadata", &self.hidden.metadata),
            ("scope.hidden.changes", &self.hidden.changes),
        ] {
            for path in paths {
                if path.segments().is_empty() || path.segments().iter().any(String::is_empty) {
                    return Err(invalid(
                        field,
                        format!("`{}` has an empty key", path.dotted()),
                    ));
                }
                for segment in path.segments() {
                    check_name(field, segment)?;
                }
            }
        }
        Ok(())
    }

    /// Refuses filters that would reveal a hidden metadata key through what
    /// matches: containment (`metadata`) naming a hidden key, and the filters
    /// reading the keys `request_id`, `mode`, `module`, `target_id` and
    /// `target_type` when those are hidden.
    ///
    /// ```
    /// use events_core::audit::{AuditQuery, Scope};
    /// let scope = Scope::everything().hide_metadata_fields(["request_id"]);
    /// let q = AuditQuery::<()>::new().request_id("req-1");
    /// assert!(scope.check_filters(&q.filters).is_err());
    /// assert!(scope.check_filters(&AuditQuery::<()>::new().mode("auto").filters).is_ok());
    /// ```
    pub fn check_filters(&self, filters: &Filters) -> Result<(), Error> {
        if self.hidden.metadata.is_empty() {
            return Ok(());
        }
        if let Some(Value::Object(object)) = &filters.metadata
            && let Some(key) = object.keys().find(|k| self.hides_metadata_key(k))
        {
            return Err(hidden_filter("metadata", key));
        }
        let reads = [
            ("request_id", "request_id", filters.request_id.is_some()),
            ("mode", "mode", filters.mode.is_some()),
            ("module", "module", filters.module.is_some()),
            ("targets", "target_id", !filters.targets.is_empty()),
            ("for_user", "target_id", filters.for_user.is_some()),
            ("target_kind", "target_type", filters.target_kind.is_some()),
        ];
        for (filter, key, set) in reads {
            if set && self.hides_metadata_key(key) {
                return Err(hidden_filter(filter, key));
            }
        }
        Ok(())
    }
}

fn check_name(field: &str, name: &str) -> Result<(), Error> {
    if name.contains('\0') {
        return Err(invalid(field, format!("{name:?} contains a NUL character")));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(invalid(
            field,
            format!("{} bytes; at most {MAX_NAME_LEN}", name.len()),
        ));
    }
    Ok(())
}

fn invalid(field: &str, message: String) -> Error {
    Error::Audit(AuditError::InvalidFilter {
        field: field.to_owned(),
        message,
    })
}

fn hidden_filter(filter: &str, key: &str) -> Error {
    invalid(
        filter,
        format!("the metadata key `{key}` is hidden from this viewer, so it cannot be filtered on"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_lists_deny_and_everything_is_the_default() {
        assert!(Scope::everything().is_everything());
        assert!(!Scope::everything().constrains_rows());
        assert!(
            Scope::everything()
                .only_actions(Vec::<&str>::new())
                .denies_everything()
        );
        assert!(
            !Scope::everything()
                .only_actions(["a.*"])
                .denies_everything()
        );
    }

    #[test]
    fn and_keeps_every_constraint_of_both() {
        let a = Scope::everything()
            .only_resources(["post"])
            .hide_fields(["email"]);
        let b = Scope::everything()
            .only_resources(["comment"])
            .hide_metadata_fields(["ip_address"]);
        let both = a.and(b);
        assert_eq!(both.resource_constraints().len(), 2);
        assert_eq!(both.hidden().data.len(), 1);
        assert_eq!(both.hidden().metadata.len(), 1);
    }

    #[test]
    fn hidden_metadata_keys_refuse_their_filters() {
        let scope = Scope::everything().hide_metadata_fields(["target_id", "mode.inner"]);
        let mut f = Filters {
            metadata: Some(serde_json::json!({"mode": "x"})),
            ..Filters::default()
        };
        assert!(
            scope.check_filters(&f).is_err(),
            "a path under `mode` hides `mode`"
        );
        f.metadata = None;
        f.for_user = Some(Key::from("u1"));
        assert!(scope.check_filters(&f).is_err());
        f.for_user = None;
        f.request_id = Some("r".into());
        assert!(scope.check_filters(&f).is_ok());
    }

    #[test]
    fn bad_names_are_refused_naming_the_part() {
        let Err(e) = Scope::everything().only_tenants(["a\0b"]).check() else {
            panic!("a NUL character in a tenant is refused");
        };
        assert!(e.to_string().contains("scope.tenants"), "{e}");
        assert!(
            Scope::everything()
                .hide_metadata_fields([FieldPath::from_segments(Vec::<String>::new())])
                .check()
                .is_err()
        );
    }
}
