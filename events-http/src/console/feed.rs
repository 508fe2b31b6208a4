//! The feed: the console's root. A GET form of filters, a page of entries,
//! and keyset paging both ways with the cursors in the URL, so every page can
//! be bookmarked, reloaded and reached again with the browser's history.
//!
//! - **Older** is `after=<cursor of the page's last entry>`: the API's keyset
//!   page.
//! - **Newer** is `before=<cursor of the page's first entry>`: the same
//!   query in the opposite order after that cursor, reversed for display.
//!   When it reaches the newest entry the page *is* the first page, and is
//!   shown as one (no Newer link, live updates on).
//! - **Newest** drops the cursor.
//!
//! Live updates run on the first page of a newest-first order only: on any
//! other page a new entry belongs elsewhere.

use askama::Template;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::Response;
use events_core::EventLog;
use events_core::audit::{AuditEntry, AuditPage, AuditQuery, Cursor, Order, Pagination};

use super::links::{FeedQuery, FilterForm};
use super::mount::Mount;
use super::page::{self, Nonce};
use super::view::Row;
use crate::error::ApiError;
use crate::params::Params;
use crate::policy::Viewer;

/// The console's own paging parameter.
const CONSOLE_PARAMS: &[(&str, &str)] = &[(
    "before",
    "keyset cursor: the entries just before (newer than) this one",
)];

/// Numbered and offset pages, which the console does not draw.
const NOT_HERE: &[&str] = &["page", "per_page", "offset"];

/// The feed page.
#[derive(Template)]
#[template(path = "feed.html")]
struct FeedPage<'a> {
    nonce: &'a str,
    home: String,
    title: String,
    form: FilterForm,
    rows: Vec<Row>,
    caption: &'static str,
    total: Option<String>,
    live: bool,
    stream: String,
    newest: Option<String>,
    newer: Option<String>,
    older: Option<String>,
}

/// `GET /`: the feed.
pub(crate) async fn page<L: EventLog>(
    viewer: Result<Viewer<L>, ApiError>,
    mount: Mount,
    RawQuery(raw): RawQuery,
) -> Response {
    match render(viewer, &mount, raw.as_deref()).await {
        Ok(response) => response,
        Err(e) => page::error(&mount, e),
    }
}

/// Which way the page was read.
enum Direction {
    /// From the start, or after a cursor (older entries).
    Forward { after: bool },
    /// Before a cursor (newer entries), read in the opposite order.
    Backward,
}

async fn render<L: EventLog>(
    viewer: Result<Viewer<L>, ApiError>,
    mount: &Mount,
    raw: Option<&str>,
) -> Result<Response, ApiError> {
    let viewer = viewer?;
    let params = Params::parse(raw);
    for name in NOT_HERE {
        if params.one(name)?.is_some() {
            return Err(ApiError::bad_parameter(
                *name,
                "the console pages by keyset: use `limit` and the Newer/Older links",
            ));
        }
    }
    let before = params.one("before")?;
    if before.is_some() && params.one("after")?.is_some() {
        return Err(ApiError::bad_parameter(
            "before",
            "cannot be combined with `after`: give one cursor",
        ));
    }
    let mut query = params.query::<L>(CONSOLE_PARAMS)?;
    let order = query.order;
    let direction = match before {
        Some(text) => {
            backward(&mut query, text)?;
            Direction::Backward
        }
        None => Direction::Forward {
            after: query.pagination.cursor().is_some(),
        },
    };
    let mut page = viewer.audit.query(&query).await?;
    if let Direction::Backward = direction {
        page.entries.reverse();
    }
    let links = FeedQuery::parse(raw);
    let nav = Nav::of(&page, &direction, order, &links, mount);
    let nonce = Nonce::new();
    let view = FeedPage {
        nonce: nonce.as_str(),
        home: mount.feed(),
        title: "Activity".to_owned(),
        form: links.form(mount),
        rows: page.entries.iter().map(|e| Row::new(e, mount)).collect(),
        caption: if order.descending() {
            "Entries, newest first"
        } else {
            "Entries, oldest first"
        },
        total: page.total.map(|t| t.to_string()),
        live: nav.first && order.descending(),
        stream: mount.stream(&links.filters()),
        newest: nav.newest,
        newer: nav.newer,
        older: nav.older,
    };
    Ok(page::html(StatusCode::OK, &nonce, &view))
}

/// Turns `query` into the page just before `cursor` in its order: the same
/// filters in the opposite order, after the cursor.
fn backward<L>(query: &mut AuditQuery<L>, text: &str) -> Result<(), ApiError> {
    let cursor: Cursor = text.parse().map_err(|_| {
        ApiError::bad_parameter(
            "before",
            "not a cursor: use the Newer link of a feed page unchanged",
        )
    })?;
    if cursor.order != query.order {
        return Err(ApiError::bad_parameter(
            "before",
            "this cursor belongs to another order: keep the `order` of the page it came from",
        ));
    }
    let reversed = reverse(query.order);
    query.order = reversed;
    query.pagination = Pagination::After {
        cursor: Some(Cursor {
            order: reversed,
            ..cursor
        }),
        limit: query.pagination.size(),
    };
    Ok(())
}

fn reverse(order: Order) -> Order {
    match order {
        Order::OccurredAsc => Order::OccurredDesc,
        Order::OccurredDesc => Order::OccurredAsc,
        Order::CommittedAsc => Order::CommittedDesc,
        Order::CommittedDesc => Order::CommittedAsc,
    }
}

/// The paging links of a page.
struct Nav {
    /// True when nothing comes before this page.
    first: bool,
    newest: Option<String>,
    newer: Option<String>,
    older: Option<String>,
}

impl Nav {
    fn of(
        page: &AuditPage,
        direction: &Direction,
        order: Order,
        links: &FeedQuery,
        mount: &Mount,
    ) -> Nav {
        let cursor_of =
            |entry: Option<&AuditEntry>| entry.and_then(|e| e.cursor(order)).map(|c| c.to_string());
        let link =
            |name: &str, cursor: String| mount.feed_query(&links.page(Some((name, &cursor))));
        // Whether entries come before this page, and after it.
        let (first, more) = match direction {
            Direction::Forward { after } => (!after, page.has_more()),
            // Read the other way: `has_more` says what lies before it; what
            // lies after it is at least the entry its cursor named.
            Direction::Backward => (!page.has_more(), !page.entries.is_empty()),
        };
        let older = if more {
            match direction {
                Direction::Forward { .. } => page.next_cursor.map(|c| c.to_string()),
                Direction::Backward => cursor_of(page.entries.last()),
            }
            .map(|c| link("after", c))
        } else {
            None
        };
        let newer = if first {
            None
        } else {
            cursor_of(page.entries.first()).map(|c| link("before", c))
        };
        Nav {
            first,
            newest: (!first).then(|| mount.feed_query(&links.page(None))),
            newer,
            older,
        }
    }
}
