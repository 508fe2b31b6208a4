//! Console: the activity console over the quickstart's log, in a browser.
//!
//! It shows:
//! - mounting `events_http::EventsHttp`'s router under a path of an app
//!   (`/activity`): the feed, entry pages, record histories, live updates;
//! - a toy `ReadPolicy`: `admin` reads everything; `support` reads tenant
//!   `acme` only, with every `email` field hidden;
//! - choosing the role, for the demo only: an `x-role: admin|support`
//!   header, or `?as=admin` / `?as=support` on any console URL once, which
//!   sets a `role` cookie and redirects to the same page without it. A real
//!   application reads its own session or token in its policy instead;
//! - a new entry every 15 seconds (`session.refreshed`, tenant `acme`), to
//!   watch the feed update live.
//!
//! Run it with `cargo run --example console` (port 3000), or give the port as
//! the first argument or in `CONSOLE_PORT` (0: any free port); it prints the
//! URLs to open. It uses `DATABASE_URL` if set, else PostgreSQL at
//! 127.0.0.1:5432, else a throwaway cluster.

use std::time::Duration;

use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use events_core::audit::{Changes, ManualEntry, Scope};
use events_examples::app::{self, Admin, EventLog, SystemActor};
use events_http::{Denied, EventsHttp, ReadPolicy};
use events_postgres::PgEventStore;
use serde_json::json;
use uuid::Uuid;

/// Where the console is mounted.
const MOUNT: &str = "/activity";

/// The demo's policy: the role comes from the `x-role` header or the `role`
/// cookie. A real application reads its own session here.
struct DemoPolicy;

impl ReadPolicy for DemoPolicy {
    async fn scope(&self, request: &Parts) -> Result<Scope, Denied> {
        match role(request).as_deref() {
            Some("admin") => Ok(Scope::everything()),
            Some("support") => Ok(Scope::everything()
                .only_tenants(["acme"])
                .hide_fields(["email"])),
            Some(_) => Err(Denied::forbidden(
                "this role may not read the activity log; use admin or support",
            )),
            None => Err(Denied::unauthenticated(
                "choose a role: add ?as=admin or ?as=support to the URL",
            )),
        }
    }
}

/// The role of a request: its `x-role` header, else its `role` cookie.
fn role(request: &Parts) -> Option<String> {
    let header = request.headers.get("x-role").and_then(|v| v.to_str().ok());
    let cookie = || {
        request
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix("role="))
    };
    header.or_else(cookie).map(str::to_owned)
}

/// `?as=<role>`: remembers the role in a cookie and redirects to the same URL
/// without `as` (the console refuses parameters it does not know).
async fn remember_role(request: Request, next: Next) -> Response {
    let query = request.uri().query().unwrap_or("");
    let chosen = query.split('&').find_map(|p| p.strip_prefix("as="));
    let Some(chosen) = chosen.filter(|r| r.bytes().all(|b| b.is_ascii_alphanumeric())) else {
        return next.run(request).await;
    };
    let rest: Vec<&str> = query.split('&').filter(|p| !p.starts_with("as=")).collect();
    let path = request.uri().path();
    let target = if rest.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", rest.join("&"))
    };
    let mut response = Redirect::to(&target).into_response();
    let cookie = format!("role={chosen}; Path=/; HttpOnly; SameSite=Lax");
    match HeaderValue::from_str(&cookie) {
        Ok(value) => {
            response.headers_mut().insert(header::SET_COOKIE, value);
            response
        }
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// The quickstart's story, plus entries of two tenants.
async fn seed(store: &PgEventStore<EventLog>) -> Result<(), events_core::Error> {
    let story = app::story(store).await?;
    let admin = Admin { id: story.admin };
    let billing = SystemActor("billing");
    let audit = store.audit();
    audit
        .track(
            ManualEntry::new("member.invited")
                .actor(&admin)
                .tenant("acme")
                .target("user", Uuid::now_v7())
                .data(json!({ "email": "lin@acme.test", "role": "editor" }))
                .metadata(json!({ "request_id": "req-acme-1", "source": "admin-ui" })),
        )
        .await?;
    audit
        .track(
            ManualEntry::new("plan.changed")
                .actor(&admin)
                .tenant("acme")
                .resource("account", Uuid::now_v7())
                .changes(Changes::updated(
                    &json!({ "plan": "starter", "seats": 5, "email": "owner@acme.test" }),
                    &json!({ "plan": "team", "seats": 12, "email": "owner@acme.test" }),
                )?),
        )
        .await?;
    audit
        .track(
            ManualEntry::new("invoice.sent")
                .actor(&billing)
                .tenant("acme")
                .resource_type("invoice")
                .data(json!({ "email": "billing@acme.test", "amount": "1,200.00 EUR" })),
        )
        .await?;
    audit
        .track(
            ManualEntry::new("login.failed")
                .tenant("globex")
                .metadata(json!({ "email": "eve@globex.test", "attempts": 3 })),
        )
        .await?;
    audit
        .track(
            ManualEntry::new("export.created")
                .actor(&admin)
                .tenant("globex")
                .data(json!({ "format": "csv", "rows": 1834 })),
        )
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::args()
        .nth(1)
        .or_else(|| std::env::var("CONSOLE_PORT").ok())
    {
        Some(text) => text
            .parse()
            .map_err(|_| format!("`{text}` is not a port number"))?,
        None => 3000,
    };
    let db = events_examples::connect("events_console").await?;
    println!("Using {}.", db.source);
    let store = PgEventStore::<EventLog>::new(db.pool.clone());
    store.migrate().await?;
    sqlx::raw_sql(app::SCHEMA).execute(&db.pool).await?;
    seed(&store).await?;

    // Something to watch live.
    let ticker = store.audit();
    tokio::spawn(async move {
        let job = SystemActor("session-sweeper");
        loop {
            tokio::time::sleep(Duration::from_secs(15)).await;
            let entry = ManualEntry::new("session.refreshed")
                .actor(&job)
                .tenant("acme");
            ticker.log(entry).await;
        }
    });

    let console = EventsHttp::new(store).policy(DemoPolicy).router();
    let app = axum::Router::new()
        .nest(MOUNT, console)
        .layer(middleware::from_fn(remember_role))
        .route("/", axum::routing::get(|| async { Redirect::to(MOUNT) }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let address = listener.local_addr()?;
    println!("Activity console on http://{address}{MOUNT}");
    println!("  as admin:   http://{address}{MOUNT}?as=admin");
    println!("  as support: http://{address}{MOUNT}?as=support  (tenant acme, no emails)");
    println!("Press Ctrl-C to stop.");
    axum::serve(listener, app).await?;
    Ok(())
}
