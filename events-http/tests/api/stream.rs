//! `GET stream`: new entries as server-sent events, with and without
//! notifications; resuming with `Last-Event-ID`; a tenant viewer's stream;
//! hidden fields absent from events.

use std::time::Duration;

use events_core::audit::{Changes, ManualEntry};
use events_postgres::PgEventStore;
use futures_util::StreamExt;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::fixture::{
    ALICE_EMAIL, Fallible, Log, META_SECRET, Server, TestResult, labels, seed, set, store,
};

/// One server-sent event.
#[derive(Debug, Default)]
struct Sse {
    event: String,
    id: Option<String>,
    data: String,
}

/// Reads events from a `text/event-stream` response.
struct Events {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
    /// The most entries one event carried.
    largest: usize,
}

impl Events {
    /// Opens the stream at `path` as `scope`, optionally resuming.
    async fn open(
        server: &Server,
        scope: &str,
        path: &str,
        last_event_id: Option<&str>,
    ) -> Fallible<Events> {
        let mut request = server
            .client
            .get(format!("{}{path}", server.base))
            .header("x-test-scope", scope);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await?;
        if response.status() != 200 {
            return Err(format!("{path}: {} {}", response.status(), response.text().await?).into());
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        Ok(Events {
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
            largest: 0,
        })
    }

    /// The next event (comments skipped), or an error after `within`.
    async fn next(&mut self, within: Duration) -> Fallible<Sse> {
        tokio::time::timeout(within, self.read())
            .await
            .map_err(|_| "no event in time")?
    }

    async fn read(&mut self) -> Fallible<Sse> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = Sse::default();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event.event = v.trim_start().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        event.id = Some(v.trim_start().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        event.data.push_str(v.trim_start());
                    }
                }
                if event.event.is_empty() && event.data.is_empty() && event.id.is_none() {
                    continue; // a keep-alive comment
                }
                return Ok(event);
            }
            let chunk = self.body.next().await.ok_or("the stream ended")??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Entries of `entries` events until `count` arrived (as labels, with the
    /// raw data of every event and the last id).
    async fn entries(&mut self, count: usize) -> Fallible<(Vec<Value>, String, Option<String>)> {
        let mut entries = Vec::new();
        let mut raw = String::new();
        let mut id = None;
        while entries.len() < count {
            let event = self.next(Duration::from_secs(10)).await?;
            assert_eq!(event.event, "entries", "{event:?}");
            raw.push_str(&event.data);
            let data: Value = serde_json::from_str(&event.data)?;
            assert_eq!(data["position"].as_str(), event.id.as_deref());
            let batch = data["entries"].as_array().cloned().unwrap_or_default();
            self.largest = self.largest.max(batch.len());
            entries.extend(batch);
            id = event.id;
        }
        Ok((entries, raw, id))
    }
}

async fn track(store: &PgEventStore<Log>, action: &str, tenant: &str) -> TestResult {
    store
        .audit()
        .track(
            ManualEntry::new(action)
                .tenant(tenant)
                .resource("post", uuid::Uuid::now_v7())
                .data(json!({"title": action, "email": ALICE_EMAIL}))
                .metadata(json!({"secret": META_SECRET, "source": "stream"}))
                .changes(Changes::created(
                    &json!({"email": ALICE_EMAIL, "title": action}),
                )?),
        )
        .await?;
    Ok(())
}

/// Entries committed after connect arrive, matching the filters, in batches
/// of at most `limit`; reconnecting with the last id resumes after it, with
/// nothing lost and nothing repeated. Run with notifications off (polling)
/// and on (woken by the shared listener).
#[sqlx::test(migrations = false)]
async fn the_stream_sends_new_entries_and_resumes(pool: PgPool) -> TestResult {
    for notify in [false, true] {
        let store = store_once(&pool, notify).await?;
        let server = Server::api(&store).await?;
        let path = "/api/stream?action=live.*&limit=2";
        let mut events = Events::open(&server, "all", path, None).await?;
        let ready = events.next(Duration::from_secs(10)).await?;
        assert_eq!(ready.event, "ready");
        assert!(ready.id.is_some(), "{ready:?}");

        track(&store, "other.thing", "acme").await?;
        for i in 0..5 {
            track(&store, &format!("live.{i}"), "acme").await?;
        }
        let (entries, _, last) = events.entries(5).await?;
        let actions: Vec<&str> = entries
            .iter()
            .filter_map(|e| e["action"].as_str())
            .collect();
        assert_eq!(
            actions,
            ["live.0", "live.1", "live.2", "live.3", "live.4"],
            "notify={notify}"
        );
        assert!(events.largest <= 2, "at most `limit` entries an event");
        drop(events);

        // Committed while disconnected: delivered on resuming, once.
        track(&store, "live.5", "acme").await?;
        track(&store, "live.6", "acme").await?;
        let mut resumed = Events::open(&server, "all", path, last.as_deref()).await?;
        assert_eq!(resumed.next(Duration::from_secs(10)).await?.event, "ready");
        let (entries, _, _) = resumed.entries(2).await?;
        let actions: Vec<&str> = entries
            .iter()
            .filter_map(|e| e["action"].as_str())
            .collect();
        assert_eq!(actions, ["live.5", "live.6"], "notify={notify}");
        // A client that saw only `ready` resumes from there: nothing lost (it
        // may also get entries that committed just before its first connect,
        // while an older transaction anywhere in the cluster was open).
        let mut quiet = Events::open(&server, "all", path, None).await?;
        let ready = quiet.next(Duration::from_secs(10)).await?;
        drop(quiet);
        track(&store, "live.7", "acme").await?;
        let mut again = Events::open(&server, "all", path, ready.id.as_deref()).await?;
        again.next(Duration::from_secs(10)).await?;
        loop {
            let (entries, _, _) = again.entries(1).await?;
            let actions: Vec<&str> = entries
                .iter()
                .filter_map(|e| e["action"].as_str())
                .collect();
            assert!(
                actions.iter().all(|a| a.starts_with("live.")),
                "{actions:?}"
            );
            if actions.contains(&"live.7") {
                break;
            }
        }
    }
    Ok(())
}

/// The migrated store: migrating twice is harmless, the notes table is
/// created once.
async fn store_once(pool: &PgPool, notify: bool) -> Fallible<PgEventStore<Log>> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('notes') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    let store = if exists {
        PgEventStore::<Log>::new(pool.clone())
    } else {
        store(pool).await?
    };
    Ok(store.with_notifications(notify))
}

/// A tenant viewer's stream carries only its tenant's entries, without the
/// fields hidden from it, also when resuming from a position an admin's
/// stream reached.
#[sqlx::test(migrations = false)]
async fn a_scoped_stream_sends_only_what_the_viewer_may_see(pool: PgPool) -> TestResult {
    let store = store(&pool).await?.with_notifications(true);
    seed(&store).await?;
    let server = Server::api(&store).await?;
    let viewer = "tenant=acme;hide=email;hide_metadata=secret";
    let mut admin = Events::open(&server, "all", "/api/stream", None).await?;
    let mut scoped = Events::open(&server, viewer, "/api/stream", None).await?;
    let mut filtered = Events::open(&server, viewer, "/api/stream?tenant=globex", None).await?;
    for events in [&mut admin, &mut scoped, &mut filtered] {
        assert_eq!(events.next(Duration::from_secs(10)).await?.event, "ready");
    }
    track(&store, "s.1", "globex").await?;
    track(&store, "s.2", "acme").await?;
    track(&store, "s.3", "globex").await?;
    track(&store, "s.4", "acme").await?;

    let (all, admin_raw, admin_last) = admin.entries(4).await?;
    assert_eq!(
        labels(&Value::Array(all)),
        set(&["s.1@globex", "s.2@acme", "s.3@globex", "s.4@acme"])
    );
    assert!(admin_raw.contains(ALICE_EMAIL) && admin_raw.contains(META_SECRET));

    let (mine, raw, _) = scoped.entries(2).await?;
    assert_eq!(labels(&Value::Array(mine)), set(&["s.2@acme", "s.4@acme"]));
    assert!(
        !raw.contains(ALICE_EMAIL) && !raw.contains(META_SECRET),
        "{raw}"
    );
    assert!(raw.contains("\"source\":\"stream\""), "{raw}");

    // Filtering on the other tenant: nothing, however long it runs.
    track(&store, "s.5", "acme").await?;
    let (more, _, _) = scoped.entries(1).await?;
    assert_eq!(more[0]["action"], "s.5");
    assert!(
        filtered.next(Duration::from_millis(1500)).await.is_err(),
        "nothing for tenant=globex"
    );

    // Resuming from a position the admin's stream reached (before s.5).
    let mut resumed = Events::open(&server, viewer, "/api/stream", admin_last.as_deref()).await?;
    resumed.next(Duration::from_secs(10)).await?;
    track(&store, "s.6", "globex").await?;
    track(&store, "s.7", "acme").await?;
    let (after, raw, _) = resumed.entries(2).await?;
    assert_eq!(labels(&Value::Array(after)), set(&["s.5@acme", "s.7@acme"]));
    assert!(
        !raw.contains(ALICE_EMAIL) && !raw.contains(META_SECRET),
        "{raw}"
    );
    Ok(())
}
