//! Query-string parameters, shared by the API and the console: the filters,
//! order, pagination and count mode of an audit query, each parsed and checked
//! into an [`AuditQuery`]. Every refusal is a 400 naming the parameter as the
//! client spelled it; unknown parameters are refused too, so a typo never
//! silently widens a query.

use chrono::{DateTime, NaiveDate, Utc};
use events_core::audit::{AuditQuery, CountMode, Cursor, DEFAULT_COUNT_CAP, EntryKind, Order};
use events_core::{EventId, EventLog, Key, PrimaryKeyType};

use crate::error::ApiError;

/// The filter parameters, each with what it takes (the OpenAPI document and
/// the "unknown parameter" message list them).
pub(crate) const FILTER_PARAMS: &[(&str, &str)] = &[
    ("resource", "resource name; repeatable (any of them)"),
    (
        "record_id",
        "record id, under any resource unless `resource` is given; repeatable",
    ),
    (
        "action",
        "action name, or a prefix ending in `*` (`post.*`); repeatable",
    ),
    ("search", "action names starting with this text"),
    ("kind", "create, update, destroy or manual; repeatable"),
    (
        "actor",
        "actor key in any actor column, or `column:key`; repeatable",
    ),
    ("target", "target id; repeatable"),
    ("target_kind", "target kind"),
    (
        "for_user",
        "entries a user took part in, as actor or target",
    ),
    ("tenant", "tenant"),
    ("transaction", "transaction id; repeatable"),
    (
        "since",
        "occurred at or after: RFC 3339 time or YYYY-MM-DD (UTC midnight)",
    ),
    (
        "until",
        "occurred before: RFC 3339 time or YYYY-MM-DD (UTC midnight)",
    ),
    (
        "committed_since",
        "committed at or after (logs tracking commit time)",
    ),
    (
        "committed_until",
        "committed before (logs tracking commit time)",
    ),
    ("metadata", "JSON object the metadata must contain"),
    ("request_id", "request id"),
    ("mode", "mode"),
    ("module", "module"),
    (
        "hide_unchanged",
        "true to hide updates that changed nothing",
    ),
];

/// The paging parameters.
pub(crate) const PAGE_PARAMS: &[(&str, &str)] = &[
    (
        "order",
        "occurred_desc (default), occurred_asc, committed_desc or committed_asc",
    ),
    ("page", "1-based page number (numbered pages, with a total)"),
    ("per_page", "entries per page, 1 to 1000 (default 50)"),
    (
        "after",
        "keyset cursor: the `next_cursor` of the previous page",
    ),
    ("limit", "entries per keyset or offset page, 1 to 1000"),
    ("offset", "entries to skip"),
    ("count", "none, exact, estimated, capped or capped:N"),
];

/// The parameters of a record's history (`records/{resource}/{record_id}/history`).
pub(crate) const HISTORY_PARAMS: &[(&str, &str)] = &[
    (
        "after",
        "cursor: the `next_cursor` of the previous part of a long history",
    ),
    ("limit", "entries per part, 1 to 1000 (default 1000)"),
];

/// The parameters of the action typeahead (`actions`).
pub(crate) const TYPEAHEAD_PARAMS: &[(&str, &str)] = &[
    (
        "q",
        "the text action names start with (all names when empty)",
    ),
    ("limit", "names to return, 1 to 1000 (default 5)"),
];

/// The stream's own parameter, besides the filters.
pub(crate) const STREAM_PARAMS: &[(&str, &str)] = &[(
    "limit",
    "most entries in one event, 1 to 1000 (default 100)",
)];

/// Entries per page unless `per_page` or `limit` says otherwise.
pub(crate) const DEFAULT_PER_PAGE: u64 = 50;

/// A query string as pairs, in order, decoded.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Decodes a raw query string (`None`: no query).
    pub(crate) fn parse(raw: Option<&str>) -> Params {
        Params {
            pairs: raw
                .map(|q| {
                    form_urlencoded::parse(q.as_bytes())
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Every value of `name`, empty values skipped (an empty form field means
    /// "not set").
    pub(crate) fn all<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.pairs
            .iter()
            .filter(move |(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The one value of `name`; given twice is a 400.
    pub(crate) fn one(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self.all(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::bad_parameter(
                name,
                "given more than once; give it once",
            ));
        }
        Ok(first)
    }

    /// Refuses any parameter not in `known`, naming it and listing the known ones.
    pub(crate) fn refuse_unknown(&self, known: &[&[(&str, &str)]]) -> Result<(), ApiError> {
        let is_known = |k: &str| known.iter().any(|set| set.iter().any(|(n, _)| *n == k));
        if let Some((k, _)) = self.pairs.iter().find(|(k, _)| !is_known(k)) {
            let names: Vec<&str> = known
                .iter()
                .flat_map(|s| s.iter().map(|(n, _)| *n))
                .collect();
            return Err(ApiError::bad_parameter(
                k.as_str(),
                format!("unknown parameter; known: {}", names.join(", ")),
            ));
        }
        Ok(())
    }

    /// The audit query these parameters describe (filters, order, paging and
    /// count), refusing unknown parameters and malformed values. The query is
    /// validated against the log's types here (key shapes, commit time), so a
    /// bad record id is a 400 naming `record_id`, not a store error later.
    pub(crate) fn query<L: EventLog>(
        &self,
        extra: &[(&str, &str)],
    ) -> Result<AuditQuery<L>, ApiError> {
        self.refuse_unknown(&[FILTER_PARAMS, PAGE_PARAMS, extra])?;
        let q = self.paging(self.filters::<L>()?)?;
        q.validate().map_err(store_error)?;
        Ok(q)
    }

    /// The filters alone (for facets, typeahead and the stream, which do not
    /// page), refusing unknown parameters.
    pub(crate) fn filters_only<L: EventLog>(
        &self,
        extra: &[(&str, &str)],
    ) -> Result<AuditQuery<L>, ApiError> {
        self.refuse_unknown(&[FILTER_PARAMS, extra])?;
        let q = self.filters::<L>()?;
        q.validate().map_err(store_error)?;
        Ok(q)
    }

    fn filters<L: EventLog>(&self) -> Result<AuditQuery<L>, ApiError> {
        let mut q = AuditQuery::<L>::new();
        let resources: Vec<&str> = self.all("resource").collect();
        if !resources.is_empty() {
            q = q.resources(resources.iter().map(|r| (*r).to_owned()));
        }
        for id in self.all("record_id") {
            q = q.record_id(Key::String(id.to_owned()));
        }
        for action in self.all("action") {
            q = q.action_pattern(action);
        }
        if let Some(term) = self.one("search")? {
            q = q.search(term);
        }
        for kind in self.all("kind") {
            let kind: EntryKind = kind.parse().map_err(|_| {
                ApiError::bad_parameter(
                    "kind",
                    format!(
                        "`{}` is not one of create, update, destroy, manual",
                        shorten(kind)
                    ),
                )
            })?;
            q = q.kind(kind);
        }
        for actor in self.all("actor") {
            q = match actor.split_once(':') {
                Some((column, key)) if L::ACTOR_COLUMNS.iter().any(|c| c.name == column) => {
                    q.actor_key(column, Key::String(key.to_owned()))
                }
                _ => q.identity(Key::String(actor.to_owned())),
            };
        }
        for target in self.all("target") {
            q = q.target(Key::String(target.to_owned()));
        }
        if let Some(kind) = self.one("target_kind")? {
            q = q.target_kind(kind);
        }
        if let Some(user) = self.one("for_user")? {
            q = q.for_user(Key::String(user.to_owned()));
        }
        if let Some(tenant) = self.one("tenant")? {
            q = q.tenant(Key::String(tenant.to_owned()));
        }
        for txid in self.all("transaction") {
            let id = txid.parse::<u64>().map_err(|_| {
                ApiError::bad_parameter(
                    "transaction",
                    format!(
                        "`{}` is not a transaction id (a positive integer)",
                        shorten(txid)
                    ),
                )
            })?;
            q = q.transaction(id);
        }
        for (name, set) in [
            ("since", AuditQuery::<L>::since as fn(_, _) -> _),
            ("until", AuditQuery::<L>::until),
            ("committed_since", AuditQuery::<L>::committed_since),
            ("committed_until", AuditQuery::<L>::committed_until),
        ] {
            if let Some(text) = self.one(name)? {
                q = set(q, time(name, text)?);
            }
        }
        if let Some(text) = self.one("metadata")? {
            let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
                ApiError::bad_parameter(
                    "metadata",
                    format!("not JSON ({e}); give a JSON object such as {{\"source\":\"api\"}}"),
                )
            })?;
            q = q.metadata_contains(value);
        }
        if let Some(id) = self.one("request_id")? {
            q = q.request_id(id);
        }
        if let Some(mode) = self.one("mode")? {
            q = q.mode(mode);
        }
        if let Some(module) = self.one("module")? {
            q = q.module(module);
        }
        if let Some(flag) = self.one("hide_unchanged")?
            && boolean("hide_unchanged", flag)?
        {
            q = q.hide_unchanged();
        }
        Ok(q)
    }

    fn paging<L: EventLog>(&self, mut q: AuditQuery<L>) -> Result<AuditQuery<L>, ApiError> {
        if let Some(order) = self.one("order")? {
            q = q.order(match order {
                "occurred_desc" => Order::OccurredDesc,
                "occurred_asc" => Order::OccurredAsc,
                "committed_desc" => Order::CommittedDesc,
                "committed_asc" => Order::CommittedAsc,
                other => {
                    return Err(ApiError::bad_parameter(
                        "order",
                        format!("`{}` is not one of occurred_desc, occurred_asc, committed_desc, committed_asc", shorten(other)),
                    ));
                }
            });
        }
        let page = self.one("page")?.map(|v| number("page", v)).transpose()?;
        let per_page = self
            .one("per_page")?
            .map(|v| number("per_page", v))
            .transpose()?;
        let after = self.one("after")?;
        let limit = self.one("limit")?.map(|v| number("limit", v)).transpose()?;
        let offset = self
            .one("offset")?
            .map(|v| number("offset", v))
            .transpose()?;
        let exclusive = [
            ("page", page.is_some() || per_page.is_some()),
            ("after", after.is_some()),
            ("offset", offset.is_some()),
        ];
        let set: Vec<&str> = exclusive
            .iter()
            .filter(|(_, s)| *s)
            .map(|(n, _)| *n)
            .collect();
        if set.len() > 1 {
            return Err(ApiError::bad_parameter(
                set[1],
                format!(
                    "cannot be combined with `{}`: page with page/per_page, after/limit or offset/limit",
                    set[0]
                ),
            ));
        }
        if per_page.is_some() && limit.is_some() {
            return Err(ApiError::bad_parameter(
                "limit",
                "cannot be combined with `per_page`",
            ));
        }
        q = if let Some(cursor) = after {
            let cursor: Cursor = cursor.parse().map_err(|_| {
                ApiError::bad_parameter(
                    "after",
                    "not a cursor: pass the `next_cursor` of the previous page unchanged",
                )
            })?;
            q.after(Some(cursor))
                .limit(limit.unwrap_or(DEFAULT_PER_PAGE))
        } else if let Some(offset) = offset {
            q.offset(offset).limit(limit.unwrap_or(DEFAULT_PER_PAGE))
        } else if page.is_some() || per_page.is_some() {
            q.page(page.unwrap_or(1), per_page.unwrap_or(DEFAULT_PER_PAGE))
        } else {
            // The first keyset page: cheap at any depth, and its cursor leads on.
            q.after(None).limit(limit.unwrap_or(DEFAULT_PER_PAGE))
        };
        if let Some(count) = self.one("count")? {
            q = q.count_mode(count_mode(count)?);
        }
        Ok(q)
    }
}

/// A store error as the API reports it: a refused filter is a 400 naming the
/// query parameter (not the model's field), anything else as [`ApiError`]'s
/// `From` says.
pub(crate) fn store_error(error: events_core::Error) -> ApiError {
    rename(ApiError::from(error))
}

/// The API's name for the filter a store error names.
fn rename(error: ApiError) -> ApiError {
    match error {
        ApiError::BadParameter { parameter, message } => {
            let parameter = match parameter.as_str() {
                "resources" => "resource",
                "record_ids" | "rows" => "record_id",
                "actors" => "actor",
                "targets" => "target",
                "transactions" => "transaction",
                "kinds" => "kind",
                "pagination" => "per_page",
                "cursor" => "after",
                other => other,
            }
            .to_owned();
            ApiError::BadParameter { parameter, message }
        }
        other => other,
    }
}

/// A time: RFC 3339, or a date (UTC midnight).
pub(crate) fn time(name: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    Err(ApiError::bad_parameter(
        name,
        format!(
            "`{}` is not a time: use RFC 3339 (2024-05-01T12:00:00Z) or a date (2024-05-01)",
            shorten(text)
        ),
    ))
}

/// A non-negative integer.
pub(crate) fn number(name: &str, text: &str) -> Result<u64, ApiError> {
    text.trim().parse::<u64>().map_err(|_| {
        ApiError::bad_parameter(
            name,
            format!("`{}` is not a non-negative integer", shorten(text)),
        )
    })
}

fn boolean(name: &str, text: &str) -> Result<bool, ApiError> {
    match text {
        "true" | "1" | "on" | "yes" => Ok(true),
        "false" | "0" | "off" | "no" => Ok(false),
        other => Err(ApiError::bad_parameter(
            name,
            format!("`{}` is not true or false", shorten(other)),
        )),
    }
}

fn count_mode(text: &str) -> Result<CountMode, ApiError> {
    Ok(match text {
        "none" => CountMode::None,
        "exact" => CountMode::Exact,
        "estimated" => CountMode::Estimated,
        "capped" => CountMode::Capped(DEFAULT_COUNT_CAP),
        other => match other.strip_prefix("capped:") {
            Some(n) => CountMode::Capped(number("count", n)?),
            None => {
                return Err(ApiError::bad_parameter(
                    "count",
                    format!(
                        "`{}` is not one of none, exact, estimated, capped, capped:N",
                        shorten(other)
                    ),
                ));
            }
        },
    })
}

/// At most 64 characters of a value, for messages.
pub(crate) fn shorten(text: &str) -> String {
    let mut out: String = text.chars().take(64).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// An event id of the log's type, from a path segment; a 400 naming `id`.
pub(crate) fn event_id<L: EventLog>(text: &str) -> Result<EventId, ApiError> {
    match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => text.parse::<i64>().map(EventId::Integer).map_err(|_| {
            ApiError::bad_parameter(
                "id",
                format!(
                    "`{}` is not an entry id: this log's ids are integers",
                    shorten(text)
                ),
            )
        }),
        PrimaryKeyType::UuidV7 => text.parse::<uuid::Uuid>().map(EventId::Uuid).map_err(|_| {
            ApiError::bad_parameter(
                "id",
                format!(
                    "`{}` is not an entry id: this log's ids are UUIDs",
                    shorten(text)
                ),
            )
        }),
    }
}
