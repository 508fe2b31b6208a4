//! Manual entries: audit log rows written by application code, next to the
//! recorded actions, in the same table (`action_type = 'manual'`).
//!
//! They are never replayed: replay selects recorded actions only. Their action is
//! a free-form name, by convention dotted `resource.verb` (`project.deleted`).

use std::marker::PhantomData;
use std::net::IpAddr;

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Changes, RequestContext, check};
use crate::personal::{PersonalData, PersonalSchema};
use crate::{Actor, Error, EventLog, Key, KeyValue, PersistsActor};

/// A manual audit entry for event log `L`, built here and stored by the store
/// (`events_postgres::AuditLog::track` returns errors, `log` never fails).
///
/// ```ignore
/// // HawkEx: track(current_user, "settings.updated", organization)
/// audit.track(ManualEntry::new("settings.updated").actor(&current_user).resource("organization", org.id)).await?;
///
/// // PhoenixKit: Activity.log(%{action: "post.created", actor_uuid: .., resource_type: "post", ..})
/// audit.log(ManualEntry::new("post.created").actor(&user).resource("post", post.id)
///     .metadata(json!({"title": post.title}))).await;
/// ```
pub struct ManualEntry<L> {
    /// The action, dotted `resource.verb` by convention.
    pub action: String,
    /// Actor column and key.
    pub actor: Option<(String, Key)>,
    /// Resource name.
    pub resource: Option<String>,
    /// Record id; needs a resource.
    pub record_id: Option<Key>,
    /// Target kind and id.
    pub target: Option<(Option<String>, Key)>,
    /// Request context.
    pub request: RequestContext,
    /// PhoenixKit's mode.
    pub mode: Option<String>,
    /// PhoenixKit's module.
    pub module: Option<String>,
    /// Tenant.
    pub tenant: Option<Key>,
    /// Entry data (default `{}`).
    pub data: Value,
    /// Metadata, a JSON object (default `{}`).
    pub metadata: Value,
    /// Recorded changes.
    pub changes: Option<Changes>,
    /// Store nothing when the changes are `unchanged` (PhoenixKit's
    /// `log_user_change`).
    pub skip_if_unchanged: bool,
    /// The personal fields of the data (and of the changes), set by
    /// [`personal_data`](Self::personal_data).
    pub personal: Option<&'static PersonalSchema>,
    _log: PhantomData<fn() -> L>,
}

impl<L> std::fmt::Debug for ManualEntry<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManualEntry")
            .field("action", &self.action)
            .field("actor", &self.actor)
            .field("resource", &self.resource)
            .field("record_id", &self.record_id)
            .field("target", &self.target)
            .field("request", &self.request)
            .field("mode", &self.mode)
            .field("module", &self.module)
            .field("tenant", &self.tenant)
            .field("data", &self.data)
            .field("metadata", &self.metadata)
            .field("changes", &self.changes)
            .field("skip_if_unchanged", &self.skip_if_unchanged)
            .field("personal", &self.personal.map(|p| p.type_name))
            .finish()
    }
}

impl<L> Clone for ManualEntry<L> {
    fn clone(&self) -> Self {
        ManualEntry {
            action: self.action.clone(),
            actor: self.actor.clone(),
            resource: self.resource.clone(),
            record_id: self.record_id.clone(),
            target: self.target.clone(),
            request: self.request.clone(),
            mode: self.mode.clone(),
            module: self.module.clone(),
            tenant: self.tenant.clone(),
            data: self.data.clone(),
            metadata: self.metadata.clone(),
            changes: self.changes.clone(),
            skip_if_unchanged: self.skip_if_unchanged,
            personal: self.personal,
            _log: PhantomData,
        }
    }
}

impl<L> ManualEntry<L> {
    /// The action PhoenixKit's `log_password_change` defaults to.
    pub const PASSWORD_RESET: &'static str = "admin_password_reset";

    /// An entry for `action`, about nothing and by no one yet (a system action);
    /// PhoenixKit's `log` / HawkEx's `track` with only the action.
    ///
    /// ```
    /// let e = events_core::audit::ManualEntry::<()>::new("cache.flushed");
    /// assert_eq!(e.action, "cache.flushed");
    /// assert_eq!(e.metadata, serde_json::json!({}));
    /// ```
    pub fn new(action: impl Into<String>) -> Self {
        ManualEntry {
            action: action.into(),
            actor: None,
            resource: None,
            record_id: None,
            target: None,
            request: RequestContext::default(),
            mode: None,
            module: None,
            tenant: None,
            data: Value::Object(Map::new()),
            metadata: Value::Object(Map::new()),
            changes: None,
            skip_if_unchanged: false,
            personal: None,
            _log: PhantomData,
        }
    }

    /// Replaces the action.
    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.action = action.into();
        self
    }

    /// The actor, by column and key (for keys from requests; strings are parsed
    /// to the column's type).
    pub fn actor_key(mut self, column: impl Into<String>, key: impl Into<Key>) -> Self {
        self.actor = Some((column.into(), key.into()));
        self
    }

    /// The resource and record the entry is about (HawkEx's `resource`,
    /// PhoenixKit's `resource_type` + `resource_uuid`). The id must fit the log's
    /// `record_id_type` (strings are parsed).
    pub fn resource(mut self, resource: impl Into<String>, record_id: impl Into<Key>) -> Self {
        self.resource = Some(resource.into());
        self.record_id = Some(record_id.into());
        self
    }

    /// The resource type alone, with no record id.
    pub fn resource_type(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// Who or what was affected (PhoenixKit's `target_uuid`), with its kind
    /// (`"user"`).
    pub fn target(mut self, kind: impl Into<String>, id: impl Into<Key>) -> Self {
        self.target = Some((Some(kind.into()), id.into()));
        self
    }

    /// The request context.
    pub fn request(mut self, request: RequestContext) -> Self {
        self.request = request;
        self
    }

    /// The client IP address.
    pub fn ip_address(mut self, ip: IpAddr) -> Self {
        self.request.ip_address = Some(ip);
        self
    }

    /// The client user agent.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.request.user_agent = Some(user_agent.into());
        self
    }

    /// The request id.
    pub fn request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request.request_id = Some(request_id.into());
        self
    }

    /// PhoenixKit's mode (`"auto"`, `"manual"`).
    pub fn mode(mut self, mode: impl Into<String>) -> Self {
        self.mode = Some(mode.into());
        self
    }

    /// PhoenixKit's module: the part of the application logging it.
    pub fn module(mut self, module: impl Into<String>) -> Self {
        self.module = Some(module.into());
        self
    }

    /// The tenant.
    pub fn tenant(mut self, tenant: impl Into<Key>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// The entry's data.
    pub fn data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }

    /// The entry's data is `value`, whose personal fields (its
    /// `#[derive(PersonalData)]`) are protected: redacted ones stored as
    /// `null`, encrypted ones encrypted for its data subject (a field of
    /// `value`, or the entry's [record id](Self::resource) or [actor](Self::actor),
    /// as `T` declares). Fields of the same names in the attached
    /// [changes](Self::changes) are protected alike. Fails when `value` does not
    /// serialize.
    ///
    /// ```
    /// use events_core::audit::ManualEntry;
    /// use events_core::personal::{PersonalData, SubjectSource};
    /// use serde::Serialize;
    /// use uuid::Uuid;
    ///
    /// #[derive(Serialize, PersonalData)]
    /// #[personal(subject = user_id)]
    /// struct Contact {
    ///     user_id: Uuid,
    ///     #[personal(encrypted, erased = String::new())]
    ///     email: String,
    ///     #[personal(redacted)]
    ///     password: Option<String>,
    /// }
    ///
    /// let contact = Contact {
    ///     user_id: Uuid::now_v7(),
    ///     email: "ada@mail.example".into(),
    ///     password: Some("hunter2".into()),
    /// };
    /// let entry = ManualEntry::<()>::new("contact.verified").personal_data(&contact)?;
    /// assert_eq!(entry.personal.map(|s| s.subject), Some(Some(SubjectSource::Field("user_id"))));
    /// // The store seals it when it writes it: `audit.track(entry).await?`.
    /// # Ok::<(), events_core::Error>(())
    /// ```
    pub fn personal_data<T: PersonalData + Serialize>(mut self, value: &T) -> Result<Self, Error> {
        self.data = serde_json::to_value(value)
            .map_err(|e| check::entry("data", format!("could not serialize: {e}")))?;
        self.personal = Some(T::SCHEMA);
        Ok(self)
    }

    /// Replaces the metadata (a JSON object).
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = metadata;
        self
    }

    /// Merges the fields of `extra` (a JSON object) into the metadata
    /// (PhoenixKit's `extra_metadata`); its fields win.
    pub fn extra_metadata(mut self, extra: Value) -> Self {
        if let Value::Object(extra) = extra {
            match &mut self.metadata {
                Value::Object(map) => map.extend(extra),
                other => *other = Value::Object(extra),
            }
        }
        self
    }

    /// PhoenixKit's `actor_role` (`"user"`, `"admin"`), kept in the metadata.
    pub fn actor_role(self, role: impl Into<String>) -> Self {
        let role = role.into();
        self.extra_metadata(serde_json::json!({ "actor_role": role }))
    }

    /// Attaches the changed values.
    pub fn changes(mut self, changes: Changes) -> Self {
        self.changes = Some(changes);
        self
    }

    /// Drops fields from the attached changes (PhoenixKit's `skip_fields`).
    pub fn skip_fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.changes = self.changes.map(|c| c.skip_fields(fields));
        self
    }

    /// Stores nothing when the attached changes are `unchanged`.
    pub fn skip_if_unchanged(mut self, skip: bool) -> Self {
        self.skip_if_unchanged = skip;
        self
    }

    /// True when the store will skip this entry: [`skip_if_unchanged`](Self::skip_if_unchanged)
    /// is set and the attached changes changed nothing.
    pub fn is_skipped(&self) -> bool {
        self.skip_if_unchanged && self.changes.as_ref().is_some_and(|c| c.unchanged)
    }
}

impl<L: EventLog> ManualEntry<L> {
    /// The actor. Only actor types the log persists compile.
    pub fn actor<A: Actor>(mut self, actor: &A) -> Self
    where
        L: PersistsActor<A>,
    {
        self.actor = Some((
            <L as PersistsActor<A>>::COLUMN.to_owned(),
            actor.primary_key().into_key(),
        ));
        self
    }

    /// PhoenixKit's `log_user_change`: `user` changed their record from `old` to
    /// `new`. Defaults: the user is the actor (override with [`actor`](Self::actor)),
    /// no target, mode `"auto"`, `actor_role` `"user"`, the field `custom_fields`
    /// skipped, and nothing stored when no field changed.
    ///
    /// ```ignore
    /// let entry = ManualEntry::user_change("user.profile_updated", &user, &old, &new)?
    ///     .actor(&admin).actor_role("admin").mode("manual");
    /// audit.log(entry).await; // None if nothing changed
    /// ```
    pub fn user_change<A: Actor, T: Serialize + ?Sized>(
        action: impl Into<String>,
        user: &A,
        old: &T,
        new: &T,
    ) -> Result<Self, Error>
    where
        L: PersistsActor<A>,
    {
        Ok(Self::new(action)
            .actor(user)
            .mode("auto")
            .actor_role("user")
            .changes(Changes::updated(old, new)?)
            .skip_fields(["custom_fields"])
            .skip_if_unchanged(true))
    }

    /// The audit log's `create_log_entry`: `admin` did `action` to `target_user`
    /// (both required, so both are parameters).
    pub fn admin_action<A: Actor>(
        action: impl Into<String>,
        admin: &A,
        target_user: impl Into<Key>,
    ) -> Self
    where
        L: PersistsActor<A>,
    {
        Self::new(action).actor(admin).target("user", target_user)
    }

    /// The audit log's `log_password_change`: `admin` changed the password of
    /// `target_user`; action [`PASSWORD_RESET`](Self::PASSWORD_RESET) unless
    /// replaced with [`action`](Self::action).
    pub fn password_change<A: Actor>(admin: &A, target_user: impl Into<Key>) -> Self
    where
        L: PersistsActor<A>,
    {
        Self::admin_action(Self::PASSWORD_RESET, admin, target_user)
    }
}
