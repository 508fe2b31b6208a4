//! The tests' application: a small event log (UUID record ids, integer event
//! ids, commit times tracked, two actor columns), a `note` resource whose
//! actions record their changes, a seeded log of recorded actions and manual
//! entries in two tenants, a read policy driven by a test header, and a real
//! server on 127.0.0.1 called with reqwest.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use events_core::audit::{Changes, ManualEntry, Scope};
use events_core::{ActionCtx, Actor, ClearRecords, Error, event_log, events};
use events_http::{Denied, EventsHttp, ReadPolicy};
use events_postgres::PgEventStore;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;
pub type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// Hidden values: no response body to a viewer they are hidden from may
/// contain them.
pub const ALICE_EMAIL: &str = "alice-hidden@example.com";
pub const NOTE_EMAIL: &str = "note-hidden@example.com";
pub const META_SECRET: &str = "meta-secret-7c1f";

/// Clears the notes before a replay.
pub struct ClearNotes;

impl ClearRecords for ClearNotes {
    async fn clear_records(conn: &mut PgConnection) -> Result<(), Error> {
        sqlx::query("DELETE FROM notes").execute(conn).await?;
        Ok(())
    }
}

/// The tests' event log.
#[event_log(
    clear_records_for_replay = ClearNotes,
    track_commit_time = true,
    advisory_lock_scope = global,
    persist_actor_primary_key(user_id, Member),
    persist_actor_primary_key(service, Service, attribute_type = string),
)]
pub struct Log;

/// A person, recorded in `user_id`.
#[derive(Debug, Clone, Copy)]
pub struct Member(pub Uuid);

impl Actor for Member {
    type PrimaryKey = Uuid;
    fn primary_key(&self) -> Uuid {
        self.0
    }
}

/// A background process, recorded in `service`.
#[derive(Debug, Clone)]
pub struct Service(pub &'static str);

impl Actor for Service {
    type PrimaryKey = String;
    fn primary_key(&self) -> String {
        self.0.to_owned()
    }
}

/// A note row.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow)]
pub struct Note {
    pub id: Uuid,
    pub title: String,
    pub email: String,
}

/// Input of `Note::create`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewNote {
    pub title: String,
    pub email: String,
}

/// Input of `Note::rename`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rename {
    pub title: String,
}

#[events(event_log = Log, name = "note")]
impl Note {
    /// Creates a note, recording its new values.
    #[create]
    pub async fn create(ctx: &mut ActionCtx<'_>, input: NewNote) -> Result<Note, Error> {
        let note = Note {
            id: ctx.record_id(),
            title: input.title,
            email: input.email,
        };
        sqlx::query("INSERT INTO notes (id, title, email) VALUES ($1, $2, $3)")
            .bind(note.id)
            .bind(&note.title)
            .bind(&note.email)
            .execute(ctx.conn())
            .await?;
        ctx.record_created(&note).await?;
        Ok(note)
    }

    /// Renames a note, recording old and changed values.
    #[update]
    pub async fn rename(ctx: &mut ActionCtx<'_>, input: Rename) -> Result<Note, Error> {
        let old: Note = sqlx::query_as("SELECT * FROM notes WHERE id = $1")
            .bind(ctx.record_id())
            .fetch_one(ctx.conn())
            .await?;
        let new: Note = sqlx::query_as("UPDATE notes SET title = $2 WHERE id = $1 RETURNING *")
            .bind(ctx.record_id())
            .bind(&input.title)
            .fetch_one(ctx.conn())
            .await?;
        ctx.record_updated(&old, &new).await?;
        Ok(new)
    }

    /// Deletes a note, recording its old values.
    #[destroy]
    pub async fn delete(ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> {
        let old: Note = sqlx::query_as("DELETE FROM notes WHERE id = $1 RETURNING *")
            .bind(ctx.record_id())
            .fetch_one(ctx.conn())
            .await?;
        ctx.record_destroyed(&old).await?;
        Ok(())
    }
}

/// The test policy: the `x-test-scope` header, `;`-separated parts:
/// `all`, `tenant=a,b`, `actions=post.*,x`, `resources=post`, `hide=email`,
/// `hide_metadata=secret`; `deny` is a 403, no header a 401.
pub struct HeaderPolicy;

impl ReadPolicy for HeaderPolicy {
    async fn scope(&self, request: &Parts) -> Result<Scope, Denied> {
        let Some(header) = request.headers.get("x-test-scope") else {
            return Err(Denied::unauthenticated("sign in to read the activity log"));
        };
        let text = header
            .to_str()
            .map_err(|_| Denied::forbidden("bad scope"))?;
        let mut scope = Scope::everything();
        for part in text.split(';').filter(|p| !p.is_empty()) {
            let (name, values) = part.split_once('=').unwrap_or((part, ""));
            let values = values.split(',').filter(|v| !v.is_empty());
            scope = match name {
                "all" => scope,
                "tenant" => scope.only_tenants(values),
                "actions" => scope.only_actions(values),
                "resources" => scope.only_resources(values),
                "hide" => scope.hide_fields(values),
                "hide_metadata" => scope.hide_metadata_fields(values),
                _ => return Err(Denied::forbidden("this viewer may not read the log")),
            };
        }
        Ok(scope)
    }
}

/// The seeded log's interesting values.
#[derive(Debug, Clone)]
pub struct Seed {
    pub alice: Member,
    pub bob: Member,
    /// The target of `post.created`.
    pub followed: Uuid,
    /// The post of the `post.*` entries (acme).
    pub post: Uuid,
    /// The note created and renamed (acme).
    pub note_acme: Uuid,
    /// The note created and deleted (globex).
    pub note_globex: Uuid,
    /// The user of `user.login` (globex).
    pub login_user: Uuid,
    /// A time between the first group of entries and the second (both
    /// occurred and committed).
    pub between: DateTime<Utc>,
}

/// Every seeded entry, as `action@tenant` labels (`-` for no tenant).
pub const ALL: [&str; 10] = [
    "create@acme",
    "rename@acme",
    "post.created@acme",
    "post.updated@acme",
    "post.touched@acme",
    "create@globex",
    "delete@globex",
    "user.login@globex",
    "billing.charged@globex",
    "system.booted@-",
];

/// The store on a fresh database, with the notes table.
pub async fn store(pool: &PgPool) -> Fallible<PgEventStore<Log>> {
    let store = PgEventStore::<Log>::new(pool.clone());
    store.migrate().await?;
    sqlx::raw_sql(
        "CREATE TABLE notes (id uuid PRIMARY KEY, title text NOT NULL, email text NOT NULL)",
    )
    .execute(pool)
    .await?;
    Ok(store)
}

/// Writes the seeded log: five entries in acme, then (after `between`) four
/// in globex and one without a tenant.
pub async fn seed(store: &PgEventStore<Log>) -> Fallible<Seed> {
    let audit = store.audit();
    let alice = Member(Uuid::now_v7());
    let bob = Member(Uuid::now_v7());
    let followed = Uuid::now_v7();
    let post = Uuid::now_v7();
    let login_user = Uuid::now_v7();

    let note = Note::create(NewNote {
        title: "Plans".into(),
        email: NOTE_EMAIL.into(),
    })
    .tenant("acme")
    .actor(&alice)
    .metadata(json!({"source": "web"}))
    .run(store)
    .await?;
    Note::rename(
        note.id,
        Rename {
            title: "Plans v2".into(),
        },
    )
    .tenant("acme")
    .actor(&alice)
    .run(store)
    .await?;
    let old = json!({"title": "Hello", "email": ALICE_EMAIL});
    audit
        .track(
            ManualEntry::new("post.created")
                .tenant("acme")
                .actor(&alice)
                .resource("post", post)
                .target("user", followed)
                .data(json!({"title": "Hello", "email": ALICE_EMAIL}))
                .metadata(json!({"source": "api", "secret": META_SECRET}))
                .request_id("req-1")
                .mode("auto")
                .module("blog")
                .changes(Changes::created(&old)?),
        )
        .await?;
    let new = json!({"title": "Hello, world", "email": ALICE_EMAIL});
    audit
        .track(
            ManualEntry::new("post.updated")
                .tenant("acme")
                .actor(&alice)
                .resource("post", post)
                .metadata(json!({"source": "api"}))
                .changes(Changes::updated(&old, &new)?),
        )
        .await?;
    audit
        .track(
            ManualEntry::new("post.touched")
                .tenant("acme")
                .resource("post", post)
                .changes(Changes::updated(&new, &new)?),
        )
        .await?;

    let between = db_now(store.pool()).await?;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let gone = Note::create(NewNote {
        title: "Old".into(),
        email: NOTE_EMAIL.into(),
    })
    .tenant("globex")
    .actor(&bob)
    .run(store)
    .await?;
    Note::delete(gone.id, ())
        .tenant("globex")
        .actor(&bob)
        .run(store)
        .await?;
    audit
        .track(
            ManualEntry::new("user.login")
                .tenant("globex")
                .actor(&bob)
                .resource("user", login_user)
                .data(json!({"email": "bob@example.com"}))
                .request_id("req-2")
                .mode("manual")
                .module("auth"),
        )
        .await?;
    audit
        .track(
            ManualEntry::new("billing.charged")
                .tenant("globex")
                .actor(&Service("cron"))
                .resource_type("invoice")
                .metadata(json!({"amount": 42})),
        )
        .await?;
    audit.track(ManualEntry::new("system.booted")).await?;
    Ok(Seed {
        alice,
        bob,
        followed,
        post,
        note_acme: note.id,
        note_globex: gone.id,
        login_user,
        between,
    })
}

/// The database's clock.
pub async fn db_now(pool: &PgPool) -> Fallible<DateTime<Utc>> {
    Ok(sqlx::query_scalar("SELECT clock_timestamp()")
        .fetch_one(pool)
        .await?)
}

/// A server running `router` on 127.0.0.1, stopped when dropped.
pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Serves `router` at the root.
    pub async fn start(router: Router) -> Fallible<Server> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                eprintln!("test server failed: {error}");
            }
        });
        Ok(Server {
            base,
            client: reqwest::Client::new(),
            task,
        })
    }

    /// The API of `store` under `/api` with the header policy.
    pub async fn api(store: &PgEventStore<Log>) -> Fallible<Server> {
        Server::start(EventsHttp::new(store.clone()).policy(HeaderPolicy).router()).await
    }

    /// GETs `path` (under the base) as `scope`: status and raw body.
    pub async fn get(&self, scope: &str, path: &str) -> Fallible<(StatusCode, String)> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header("x-test-scope", scope)
            .send()
            .await?;
        Ok((response.status(), response.text().await?))
    }

    /// GETs `path` as `scope`, expecting 200 and JSON.
    pub async fn json(&self, scope: &str, path: &str) -> Fallible<Value> {
        let (status, body) = self.get(scope, path).await?;
        if status != StatusCode::OK {
            return Err(format!("GET {path} as {scope}: {status} {body}").into());
        }
        Ok(serde_json::from_str(&body)?)
    }

    /// GETs `path` as `scope`, expecting `status` with an error body: the
    /// parameter it names.
    pub async fn error(&self, scope: &str, path: &str, status: u16) -> Fallible<Option<String>> {
        let (got, body) = self.get(scope, path).await?;
        if got.as_u16() != status {
            return Err(
                format!("GET {path} as {scope}: expected {status}, got {got} {body}").into(),
            );
        }
        let body: Value = serde_json::from_str(&body)?;
        assert_eq!(body["error"]["status"], status, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        Ok(body["error"]["parameter"].as_str().map(str::to_owned))
    }

    /// The entry labels (`action@tenant`) of `GET api/entries?<query>`'s first
    /// page of up to 1000, as `scope`.
    pub async fn labels(&self, scope: &str, query: &str) -> Fallible<BTreeSet<String>> {
        let sep = if query.is_empty() { "" } else { "&" };
        let page = self
            .json(scope, &format!("/api/entries?limit=1000{sep}{query}"))
            .await?;
        Ok(labels(&page["entries"]))
    }
}

/// `action@tenant` of each entry of a JSON array.
pub fn labels(entries: &Value) -> BTreeSet<String> {
    entries
        .as_array()
        .into_iter()
        .flatten()
        .map(label)
        .collect()
}

/// `action@tenant` of one entry.
pub fn label(entry: &Value) -> String {
    format!(
        "{}@{}",
        entry["action"].as_str().unwrap_or("?"),
        entry["tenant"].as_str().unwrap_or("-")
    )
}

/// A set of labels.
pub fn set(labels: &[&str]) -> BTreeSet<String> {
    labels.iter().map(|l| (*l).to_owned()).collect()
}

/// Percent-encodes a query value.
pub fn enc(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An `Arc` of the policy, to check `ReadPolicy for Arc<P>`.
pub fn shared_policy() -> Arc<HeaderPolicy> {
    Arc::new(HeaderPolicy)
}
