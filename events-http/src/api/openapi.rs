//! `GET openapi.json`: the API's OpenAPI 3.1 document, so clients can be
//! generated.
//!
//! Response schemas come from the response types themselves
//! (`#[derive(ToSchema)]` in `dto.rs`), so they cannot drift from what is
//! sent. The query parameters come from the tables the parser checks against
//! (`params.rs`), with their descriptions, so the document lists exactly the
//! parameters that are accepted. The paths are built here rather than with
//! `#[utoipa::path]` on each handler: the handlers are generic over the event
//! log and the policy, and the parameter lists are shared data, not per
//! handler attributes.
//!
//! The server URL is where the document was fetched from, less
//! `/openapi.json`, so it is right under whatever path the router is mounted.

use axum::Json;
use axum::extract::OriginalUri;
use events_core::EventLog;
use utoipa::OpenApi;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::response::{ResponseBuilder, Responses, ResponsesBuilder};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::server::Server;
use utoipa::openapi::{Content, PathItem, Paths, Ref, RefOr, Required, Schema};

use super::dto::{ActionNames, EntriesPage, Entry, FacetsView, History, StreamBatch};
use crate::error::ErrorBody;
use crate::params::{FILTER_PARAMS, HISTORY_PARAMS, PAGE_PARAMS, STREAM_PARAMS, TYPEAHEAD_PARAMS};
use crate::policy::Viewer;

/// The document's fixed parts: info and the component schemas.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "events-http activity API",
        description = "Read the audit log: entries with every filter, one entry, a record's \
                       history, facets, action typeahead and a live stream. Every answer is \
                       limited to what the application's read policy lets the caller see.",
    ),
    components(schemas(
        EntriesPage,
        Entry,
        History,
        FacetsView,
        ActionNames,
        StreamBatch,
        ErrorBody
    ))
)]
struct Document;

/// The path of every route, relative to the API's root (what the test of
/// the document checks it against).
#[cfg(test)]
const ROUTES: [&str; 7] = [
    "/entries",
    "/entries/{id}",
    "/records/{resource}/{record_id}/history",
    "/facets",
    "/actions",
    "/stream",
    "/openapi.json",
];

/// `GET openapi.json`.
pub(crate) async fn serve<L: EventLog>(
    _viewer: Viewer<L>,
    OriginalUri(uri): OriginalUri,
) -> Json<utoipa::openapi::OpenApi> {
    let path = uri.path();
    let root = path.strip_suffix("/openapi.json").unwrap_or(path);
    Json(document(root))
}

/// The document, for an API served at `root` (`/admin/activity/api`).
pub(crate) fn document(root: &str) -> utoipa::openapi::OpenApi {
    let mut doc = Document::openapi();
    doc.servers = Some(vec![Server::new(if root.is_empty() { "/" } else { root })]);
    doc.paths = paths();
    doc
}

fn paths() -> Paths {
    let page_params: Vec<(&str, &str)> = FILTER_PARAMS.iter().chain(PAGE_PARAMS).copied().collect();
    let stream_params: Vec<(&str, &str)> =
        FILTER_PARAMS.iter().chain(STREAM_PARAMS).copied().collect();
    let routes = [
        get(
            "/entries",
            "listEntries",
            "A page of entries matching the filters. Without paging parameters, the first keyset \
             page of 50 (continue with `after=<next_cursor>`); `page`/`per_page` for numbered pages \
             with a total; `offset`/`limit`. Filters of different parameters combine with AND, \
             repeated values of one with OR.",
            query(&page_params),
            json_ok("The page", "EntriesPage"),
        ),
        get(
            "/entries/{id}",
            "getEntry",
            "One entry. 404 when it does not exist or is outside what the caller may see (the \
             two are not told apart).",
            vec![path_param(
                "id",
                "the entry's id (integer or UUID, per the log)",
            )],
            json_ok("The entry", "Entry"),
        ),
        get(
            "/records/{resource}/{record_id}/history",
            "recordHistory",
            "A record's entries, oldest first, with the values each write recorded: old, changed \
             and new values and each changed field from → to. A record with no entry the caller \
             may see (an unknown resource or record included) has an empty list.",
            [
                path_param("resource", "the resource name"),
                path_param("record_id", "the record's id, of the log's record id type"),
            ]
            .into_iter()
            .chain(query(HISTORY_PARAMS))
            .collect(),
            json_ok("The history", "History"),
        ),
        get(
            "/facets",
            "facets",
            "Distinct actions, kinds, resources, modes, modules and actors the caller may see, \
             for filter menus.",
            Vec::new(),
            json_ok("The facets", "FacetsView"),
        ),
        get(
            "/actions",
            "searchActions",
            "Typeahead: action names starting with `q` that the caller may see.",
            query(TYPEAHEAD_PARAMS),
            json_ok("The names", "ActionNames"),
        ),
        get(
            "/stream",
            "streamEntries",
            "Server-sent events of new entries matching the filters, committed after connect. \
             Events `ready` (at connect) and `entries` carry a `StreamBatch` as data and the \
             stream position as `id`; reconnect with `Last-Event-ID` to resume after it. An \
             `error` event (an `ErrorBody`) ends the stream.",
            query(&stream_params)
                .into_iter()
                .chain([ParameterBuilder::new()
                    .name("Last-Event-ID")
                    .parameter_in(ParameterIn::Header)
                    .required(Required::False)
                    .description(Some(
                        "resume after this position (the `id` of the last event received)",
                    ))
                    .schema(Some(string()))
                    .build()])
                .collect(),
            ResponseBuilder::new()
                .description("An event stream; each event's data is a `StreamBatch`")
                .content(
                    "text/event-stream",
                    Content::new(Some(Ref::from_schema_name("StreamBatch"))),
                )
                .build(),
        ),
        get(
            "/openapi.json",
            "openApi",
            "This document.",
            Vec::new(),
            ResponseBuilder::new()
                .description("The OpenAPI document")
                .content(
                    "application/json",
                    Content::new(Some(ObjectBuilder::new().build())),
                )
                .build(),
        ),
    ];
    let mut paths = Paths::new();
    for (path, item) in routes {
        paths.paths.insert(path.to_owned(), item);
    }
    paths
}

/// A GET operation with the shared error responses.
fn get(
    path: &'static str,
    id: &str,
    description: &str,
    parameters: Vec<utoipa::openapi::path::Parameter>,
    ok: utoipa::openapi::Response,
) -> (&'static str, PathItem) {
    let operation = OperationBuilder::new()
        .operation_id(Some(id))
        .description(Some(description))
        .parameters(Some(parameters))
        .request_body(None::<RequestBody>)
        .responses(responses(ok))
        .build();
    (path, PathItem::new(HttpMethod::Get, operation))
}

fn responses(ok: utoipa::openapi::Response) -> Responses {
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("ErrorBody"))),
            )
            .build()
    };
    ResponsesBuilder::new()
        .response("200", ok)
        .response(
            "400",
            error("A malformed or unknown parameter; `parameter` names it"),
        )
        .response("401", error("The read policy asks the caller to sign in"))
        .response(
            "403",
            error("The read policy refuses the caller (and every caller without a policy)"),
        )
        .response("404", error("Nothing there, or nothing the caller may see"))
        .response("500", error("The server failed; the detail was logged"))
        .build()
}

fn json_ok(description: &str, schema: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name(schema))),
        )
        .build()
}

fn path_param(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(string()))
        .build()
}

/// Query parameters from a parameter table, typed by name.
fn query(table: &[(&str, &str)]) -> Vec<utoipa::openapi::path::Parameter> {
    table
        .iter()
        .map(|(name, description)| {
            let scalar = match *name {
                "page" | "per_page" | "limit" | "offset" | "transaction" => ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .build()
                    .into(),
                "hide_unchanged" => ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .build()
                    .into(),
                _ => string(),
            };
            let repeatable = description.contains("repeatable");
            let schema: RefOr<Schema> = if repeatable {
                ArrayBuilder::new().items(scalar).build().into()
            } else {
                scalar
            };
            ParameterBuilder::new()
                .name(*name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(*description))
                .schema(Some(schema))
                .explode(repeatable.then_some(true))
                .build()
        })
        .collect()
}

fn string() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .build()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The served document is OpenAPI 3 JSON listing every route with a GET,
    /// every query parameter the parser accepts, and the error body.
    #[test]
    fn the_document_is_openapi_3_and_lists_every_route() -> Result<(), serde_json::Error> {
        let json: serde_json::Value = serde_json::from_str(&document("/admin/api").to_json()?)?;
        let version = json["openapi"].as_str().unwrap_or_default();
        assert!(version.starts_with("3."), "{version}");
        assert!(json["info"]["title"].is_string() && json["info"]["version"].is_string());
        assert_eq!(json["servers"][0]["url"], "/admin/api");
        let paths = json["paths"].as_object().map(|p| p.len());
        assert_eq!(paths, Some(ROUTES.len()));
        for route in ROUTES {
            let get = &json["paths"][route]["get"];
            assert!(get["operationId"].is_string(), "{route}: {get}");
            assert!(get["responses"]["200"].is_object(), "{route}");
            assert_eq!(
                get["responses"]["400"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{route}"
            );
        }
        let listed: Vec<&str> = json["paths"]["/entries"]["get"]["parameters"]
            .as_array()
            .map(|ps| ps.iter().filter_map(|p| p["name"].as_str()).collect())
            .unwrap_or_default();
        for (name, _) in FILTER_PARAMS.iter().chain(PAGE_PARAMS) {
            assert!(listed.contains(name), "{name} missing from {listed:?}");
        }
        for (route, names) in [
            (
                "/records/{resource}/{record_id}/history",
                &["resource", "record_id", "after", "limit"][..],
            ),
            ("/actions", &["q", "limit"]),
            ("/stream", &["limit", "action", "tenant", "Last-Event-ID"]),
        ] {
            let params = json["paths"][route]["get"]["parameters"].to_string();
            for name in names {
                assert!(
                    params.contains(&format!("\"name\":\"{name}\"")),
                    "{route}: {name}"
                );
            }
        }
        let schemas = &json["components"]["schemas"];
        for schema in [
            "EntriesPage",
            "Entry",
            "History",
            "FacetsView",
            "ActionNames",
            "StreamBatch",
            "ErrorBody",
            "ErrorDetail",
            "Total",
        ] {
            assert!(schemas[schema].is_object(), "schema {schema} missing");
        }
        // Every reference resolves.
        let text = json.to_string();
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap_or_default();
            assert!(schemas[name].is_object(), "dangling reference to {name}");
        }
        Ok(())
    }
}
