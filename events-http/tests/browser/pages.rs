//! What a browser does not show, over plain HTTP: the security headers, error
//! pages with the API's statuses, deny by default, and a scoped viewer's
//! pages and stream.

use std::time::Duration;

use axum::http::request::Parts;
use events_core::audit::{ManualEntry, Scope};
use events_http::{Denied, EventsHttp, ReadPolicy};
use serde_json::json;
use sqlx::PgPool;

use crate::TestResult;
use crate::app;
use crate::server::{Server, get};

const QUICK: Duration = Duration::from_secs(5);

/// The nonce of a page's Content-Security-Policy.
fn nonce(policy: &str) -> Option<&str> {
    let start = policy.find("script-src 'nonce-")? + "script-src 'nonce-".len();
    policy[start..].split('\'').next()
}

/// Every page has a policy allowing only its own inline style and script, by
/// a nonce that changes with every response, and is kept out of caches.
#[sqlx::test(migrations = false)]
async fn pages_carry_a_fresh_nonce_in_their_content_security_policy(pool: PgPool) -> TestResult {
    let store = app::store(&pool).await?;
    let entry = store
        .audit()
        .track(ManualEntry::new("x.done"))
        .await?
        .ok_or("tracked")?;
    let server = Server::start(store).await?;

    let first = get(&server.console, &[], QUICK).await?;
    assert_eq!(first.status, 200);
    let policy = first.header("content-security-policy").ok_or("a policy")?;
    assert!(policy.starts_with("default-src 'none'; "), "{policy}");
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    let n = nonce(policy).ok_or("a nonce")?;
    assert_eq!(first.body.matches("<script").count(), 1);
    assert!(first.body.contains(&format!("<script nonce=\"{n}\">")));
    assert!(first.body.contains(&format!("<style nonce=\"{n}\">")));
    assert_eq!(first.header("cache-control"), Some("no-store"));
    assert_eq!(first.header("x-content-type-options"), Some("nosniff"));

    let second = get(&server.console, &[], QUICK).await?;
    let other = nonce(second.header("content-security-policy").ok_or("a policy")?);
    assert_ne!(other, Some(n), "a nonce is never reused");

    let page = get(&server.url(&format!("/entries/{}", entry.id)), &[], QUICK).await?;
    assert_eq!(page.status, 200);
    assert!(page.header("content-security-policy").is_some());
    assert!(!page.body.contains("<script"), "only the feed has a script");
    Ok(())
}

/// Errors are pages, with the API's statuses: 400 naming the parameter, 404
/// for an entry that is not there.
#[sqlx::test(migrations = false)]
async fn errors_are_pages_with_the_apis_statuses(pool: PgPool) -> TestResult {
    let store = app::store(&pool).await?;
    let server = Server::start(store).await?;
    for (path, status, parameter) in [
        ("?limit=many", 400, "limit"),
        ("?limit=5000", 400, "limit"),
        ("?colour=red", 400, "colour"),
        ("?since=yesterday", 400, "since"),
        ("?page=2", 400, "page"),
        ("?before=nonsense", 400, "before"),
        ("?after=c1.od.1.i1&before=c1.od.1.i1", 400, "before"),
        ("/entries/forty-two", 400, "id"),
        ("/entries/42", 404, ""),
        ("/records/Note/not-a-uuid", 400, "record_id"),
        (
            "/records/Note/0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b?limit=0",
            400,
            "limit",
        ),
        ("/stream?colour=red", 400, ""),
    ] {
        let reply = get(&server.url(path), &[], QUICK).await?;
        assert_eq!(reply.status, status, "{path}: {}", reply.body);
        if !parameter.is_empty() {
            assert!(
                reply
                    .body
                    .contains(&format!("The parameter <code>{parameter}</code>")),
                "{path} names {parameter}: {}",
                reply.body
            );
            assert!(reply.header("content-security-policy").is_some());
        }
    }
    let reply = get(&server.url("/entries/42"), &[], QUICK).await?;
    assert!(reply.body.contains("entry 42 not found"), "{}", reply.body);
    Ok(())
}

/// A router without a policy refuses every page and the stream with 403.
#[sqlx::test(migrations = false)]
async fn without_a_policy_every_page_is_refused(pool: PgPool) -> TestResult {
    let store = app::store(&pool).await?;
    store.audit().track(ManualEntry::new("x.done")).await?;
    let server = Server::router(EventsHttp::new(store).router()).await?;
    for path in [
        "",
        "/entries/1",
        "/records/Note/0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
        "/stream",
    ] {
        let reply = get(&server.url(path), &[], QUICK).await?;
        assert_eq!(reply.status, 403, "{path}");
        assert!(!reply.body.contains("x.done"));
    }
    Ok(())
}

/// Support staff: tenant `acme` only, `email` hidden.
struct Support;

impl ReadPolicy for Support {
    async fn scope(&self, _request: &Parts) -> Result<Scope, Denied> {
        Ok(Scope::everything()
            .only_tenants(["acme"])
            .hide_fields(["email"]))
    }
}

/// A scoped viewer's feed, entry pages and stream show only their tenant,
/// without hidden fields; another tenant's entry is "not found".
#[sqlx::test(migrations = false)]
async fn a_scoped_viewer_sees_only_what_the_scope_allows(pool: PgPool) -> TestResult {
    let store = app::store(&pool).await?;
    let audit = store.audit();
    let data = json!({ "email": "lin@acme.test", "role": "editor" });
    let ours = audit
        .track(
            ManualEntry::new("member.invited")
                .tenant("acme")
                .data(data.clone()),
        )
        .await?
        .ok_or("tracked")?;
    let theirs = audit
        .track(ManualEntry::new("member.removed").tenant("globex"))
        .await?
        .ok_or("tracked")?;
    let server = Server::router(EventsHttp::new(store.clone()).policy(Support).router()).await?;

    let feed = get(&server.console, &[], QUICK).await?;
    assert!(feed.body.contains("member.invited"));
    assert!(!feed.body.contains("member.removed"));
    let page = get(&server.url(&format!("/entries/{}", ours.id)), &[], QUICK).await?;
    assert!(page.body.contains("editor"));
    assert!(!page.body.contains("lin@acme.test"), "{}", page.body);
    let page = get(&server.url(&format!("/entries/{}", theirs.id)), &[], QUICK).await?;
    assert_eq!(page.status, 404);

    let url = server.url("/stream");
    let stream = tokio::spawn(async move { get(&url, &[], Duration::from_secs(3)).await });
    tokio::time::sleep(Duration::from_millis(800)).await;
    audit
        .track(ManualEntry::new("seen.elsewhere").tenant("globex"))
        .await?;
    audit
        .track(ManualEntry::new("seen.here").tenant("acme").data(data))
        .await?;
    let reply = stream.await??;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    assert!(reply.body.contains("event: entry"), "{}", reply.body);
    assert!(reply.body.contains("seen.here"), "{}", reply.body);
    assert!(!reply.body.contains("seen.elsewhere"));
    assert!(!reply.body.contains("lin@acme.test"));
    Ok(())
}
