//! The feed's query string, read once and turned into what a feed page links
//! to: the filter form's values, the paging links (which keep the filters,
//! the order and the page size, and replace the cursor), the live stream's URL
//! (the filters alone) and a "remove" link per filter the form has no field for.
//!
//! Validation is not done here: [`Params`](crate::params::Params) checks the
//! same query and refuses it with a 400 before any of these links is drawn.

use chrono::NaiveDate;

use super::mount::{Mount, encode_query};
use crate::params::FILTER_PARAMS;

/// What a page link keeps besides the filters.
const KEPT: &[&str] = &["order", "limit"];

/// The filter form's fields: parameter, label, input type, placeholder.
const FORM_FIELDS: &[(&str, &str, &str, &str)] = &[
    ("actor", "Actor", "text", "key, or column:key"),
    ("search", "Action starts with", "text", "e.g. user."),
    ("resource", "Resource", "text", ""),
    ("record_id", "Record id", "text", ""),
    ("tenant", "Tenant", "text", ""),
    ("since", "From (date)", "date", ""),
    ("until", "Before (date)", "date", ""),
    ("limit", "Per page", "number", "50"),
];

/// The feed's query string: the filters, order and page size, decoded, in
/// order, empty values dropped (an empty form field means "not set").
#[derive(Debug, Clone, Default)]
pub(crate) struct FeedQuery {
    kept: Vec<(String, String)>,
}

/// One input of the filter form.
#[derive(Debug, Clone)]
pub(crate) struct FormField {
    /// Parameter name, and the input's name.
    pub(crate) name: &'static str,
    /// Its label.
    pub(crate) label: &'static str,
    /// The input type (`text`, `date`, `number`).
    pub(crate) kind: &'static str,
    /// Placeholder.
    pub(crate) hint: &'static str,
    /// Current value.
    pub(crate) value: String,
}

/// A filter in the URL that the form has no field for (an exact action from
/// a badge, a transaction, a request id): kept by the form as a hidden input,
/// shown with a link that removes it.
#[derive(Debug, Clone)]
pub(crate) struct Chip {
    /// Parameter name.
    pub(crate) name: String,
    /// Its value.
    pub(crate) value: String,
    /// The feed without it.
    pub(crate) remove: String,
}

/// The filter form: its inputs, the hidden inputs that keep the other
/// parameters, and those shown as chips.
#[derive(Debug, Clone)]
pub(crate) struct FilterForm {
    /// The visible inputs.
    pub(crate) fields: Vec<FormField>,
    /// Hidden inputs: parameters the visible ones do not hold.
    pub(crate) hidden: Vec<(String, String)>,
    /// The hidden filters, each with a link removing it.
    pub(crate) chips: Vec<Chip>,
}

impl FeedQuery {
    /// Reads a raw query string, keeping the filters, order and page size.
    pub(crate) fn parse(raw: Option<&str>) -> FeedQuery {
        let kept = raw
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .filter(|(k, v)| !v.is_empty() && (is_filter(k) || KEPT.contains(&&**k)))
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        FeedQuery { kept }
    }

    /// The query of a page of the feed: everything kept, plus `cursor`
    /// (`("after", ..)` or `("before", ..)`) if given.
    pub(crate) fn page(&self, cursor: Option<(&str, &str)>) -> String {
        encode_query(
            self.kept
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .chain(cursor),
        )
    }

    /// The filters alone: the live stream's query.
    pub(crate) fn filters(&self) -> String {
        encode_query(
            self.kept
                .iter()
                .filter(|(k, _)| is_filter(k))
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
    }

    /// The filter form for this query.
    pub(crate) fn form(&self, mount: &Mount) -> FilterForm {
        let mut fields: Vec<FormField> = FORM_FIELDS
            .iter()
            .map(|&(name, label, kind, hint)| FormField {
                name,
                label,
                kind,
                hint,
                value: String::new(),
            })
            .collect();
        let mut hidden = Vec::new();
        let mut chips = Vec::new();
        for (index, (name, value)) in self.kept.iter().enumerate() {
            let slot = fields
                .iter_mut()
                .find(|f| f.name == name && f.value.is_empty() && fits(f.kind, value));
            if let Some(field) = slot {
                field.value.clone_from(value);
                continue;
            }
            hidden.push((name.clone(), value.clone()));
            let rest = self
                .kept
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != index)
                .map(|(_, (k, v))| (k.as_str(), v.as_str()));
            chips.push(Chip {
                name: name.clone(),
                value: value.clone(),
                remove: mount.feed_query(&encode_query(rest)),
            });
        }
        FilterForm {
            fields,
            hidden,
            chips,
        }
    }
}

fn is_filter(name: &str) -> bool {
    FILTER_PARAMS.iter().any(|(n, _)| *n == name)
}

/// Whether an input of type `kind` can hold `value` unchanged (a date input
/// holds only `YYYY-MM-DD`; a time stays a hidden input).
fn fits(kind: &str, value: &str) -> bool {
    match kind {
        "date" => value.len() == 10 && NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok(),
        "number" => !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_keep_filters_order_and_size_and_replace_the_cursor() {
        let q = FeedQuery::parse(Some(
            "actor=&search=user.&limit=5&after=c1.od.1.i1&tenant=acme&order=occurred_desc",
        ));
        assert_eq!(
            q.page(Some(("before", "c1.od.2.i2"))),
            "search=user.&limit=5&tenant=acme&order=occurred_desc&before=c1.od.2.i2"
        );
        assert_eq!(q.filters(), "search=user.&tenant=acme");
    }

    #[test]
    fn filters_without_a_field_become_hidden_inputs_with_a_remove_link() {
        let q = FeedQuery::parse(Some(
            "action=login.failed&since=2024-05-01T10:00:00Z&tenant=a&tenant=b",
        ));
        let form = q.form(&Mount::from_paths("/m", "/"));
        let value = |name| {
            form.fields
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.value.clone())
        };
        assert_eq!(value("tenant").as_deref(), Some("a"));
        assert_eq!(value("since").as_deref(), Some(""));
        let names: Vec<&str> = form.chips.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["action", "since", "tenant"]);
        assert_eq!(
            form.chips[0].remove,
            "/m?since=2024-05-01T10%3A00%3A00Z&tenant=a&tenant=b"
        );
        assert_eq!(form.hidden.len(), 3);
    }
}
