//! The NATS JetStream relay against the real PostgreSQL and the real NATS
//! (`NATS_URL`, default `127.0.0.1:4222`; each test its own stream, deleted at
//! the end): every event once, in commit order, with its headers; killed
//! between publish and checkpoint and restarted after the duplicate window:
//! still once; NATS down: actions go on, the relay retries and catches up on
//! a `nats-server` of the test's own.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use events_core::{ActionCtx, Error, EventId, event_log, events};
use events_nats::async_nats::{self, jetstream};
use events_nats::message::{ACTION, POSITION, RESOURCE, TENANT, VERSION};
use events_nats::{Relay, RelayError, RelayedEvent};
use events_postgres::PgEventStore;
use events_postgres::follow::Position;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use crate::wait::wait_for;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Per-record locks.
#[event_log(advisory_lock_scope = record, table = "relay_log")]
pub struct RelayLog;

/// A parcel; its events are what the relay publishes.
pub struct Parcel;

/// Input of `Parcel::ship`.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Ship {
    to: String,
}

#[events(event_log = RelayLog)]
impl Parcel {
    /// Ships a parcel.
    #[create]
    pub async fn ship(_ctx: &mut ActionCtx<'_>, _input: Ship) -> Result<(), Error> {
        Ok(())
    }

    /// Delivers it.
    #[update]
    pub async fn deliver(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<(), Error> {
        Ok(())
    }
}

fn nats_url() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| "127.0.0.1:4222".into())
}

/// A stream and subject prefix of the test's own, deleted when dropped.
struct TestStream {
    jetstream: jetstream::Context,
    name: String,
    prefix: String,
}

impl TestStream {
    async fn new(url: &str) -> Result<Self, async_nats::Error> {
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(url)
            .await?;
        let tag = Uuid::new_v4().simple().to_string();
        Ok(TestStream {
            jetstream: jetstream::new(client),
            name: format!("RELAY_TEST_{tag}"),
            prefix: format!("relaytest.{tag}"),
        })
    }

    fn relay(&self, store: &PgEventStore<RelayLog>) -> Relay<RelayLog> {
        Relay::new(store.clone(), self.jetstream.clone())
            .stream(self.name.clone())
            .subject_prefix(self.prefix.clone())
            .poll_interval(Duration::from_millis(50))
            .backoff(Duration::from_millis(20), Duration::from_millis(200))
    }

    /// Every message of the stream, in stream order: (subject, headers' position, body).
    async fn messages(
        &self,
    ) -> Result<Vec<(String, async_nats::HeaderMap, RelayedEvent)>, async_nats::Error> {
        let mut stream = self.jetstream.get_stream(&self.name).await?;
        let last = stream.info().await?.state.last_sequence;
        let mut out = Vec::new();
        for sequence in 1..=last {
            let message = stream.get_raw_message(sequence).await?;
            let event = RelayedEvent::from_payload(&message.payload)?;
            out.push((message.subject.to_string(), message.headers, event));
        }
        Ok(out)
    }

    async fn count(&self) -> Result<u64, async_nats::Error> {
        let mut stream = self.jetstream.get_stream(&self.name).await?;
        Ok(stream.info().await?.state.messages)
    }

    async fn wait_for(&self, messages: u64) -> TestResult {
        let what = format!("the stream to hold {messages} messages");
        wait_for(&what, Duration::from_secs(30), || async {
            Ok((self.count().await.unwrap_or(0) >= messages).then_some(()))
        })
        .await
    }

    async fn delete(self) {
        let _ = self.jetstream.delete_stream(&self.name).await;
    }
}

async fn setup(pool: &PgPool) -> Result<PgEventStore<RelayLog>, Error> {
    let store = PgEventStore::<RelayLog>::new(pool.clone()).with_notifications(true);
    store.migrate().await?;
    Ok(store)
}

/// Ships `n` parcels (tenant `t<i % 3>`) and delivers every other one.
async fn write(store: &PgEventStore<RelayLog>, n: usize) -> Result<(), Error> {
    for i in 0..n {
        let id = Uuid::now_v7();
        Parcel::ship(Ship {
            to: format!("street {i}"),
        })
        .record_id(id)
        .tenant(format!("t{}", i % 3))
        .run(store)
        .await?;
        if i % 2 == 0 {
            Parcel::deliver(id, ())
                .tenant(format!("t{}", i % 3))
                .run(store)
                .await?;
        }
    }
    Ok(())
}

/// Every event's position, in the log's commit order.
async fn committed(pool: &PgPool) -> Result<Vec<Position>, sqlx::Error> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT txid::text, id FROM relay_log ORDER BY txid, id")
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(txid, id)| Position {
            txid: txid.parse().unwrap_or_default(),
            id: EventId::Integer(id),
        })
        .collect())
}

/// The stream holds each committed event once, in commit order.
async fn assert_exactly_once(stream: &TestStream, pool: &PgPool) -> TestResult {
    let expected = committed(pool).await?;
    let messages = stream.messages().await?;
    let positions: Vec<Position> = messages.iter().map(|(_, _, e)| e.position).collect();
    assert_eq!(positions, expected, "each event once, in commit order");
    for (_, headers, event) in &messages {
        assert_eq!(
            headers.get("Nats-Msg-Id").map(|v| v.as_str().to_owned()),
            Some(event.id.to_string())
        );
    }
    Ok(())
}

#[sqlx::test]
async fn the_relay_publishes_each_event_once_in_commit_order_with_its_headers(
    pool: PgPool,
) -> TestResult {
    let store = setup(&pool).await?;
    let stream = TestStream::new(&nats_url()).await?;
    let relay = stream.relay(&store).tenant_in_subject(true);
    relay.ensure_stream().await?;
    relay.ensure_stream().await?; // idempotent
    write(&store, 10).await?; // 15 events
    relay.run_until(|n| n >= 15).await?;
    assert_exactly_once(&stream, &pool).await?;

    let messages = stream.messages().await?;
    let (subject, headers, event) = &messages[0];
    assert_eq!(subject, &format!("{}.t0.Parcel.ship", stream.prefix));
    assert_eq!(
        (
            headers.get(RESOURCE).map(|v| v.as_str()),
            headers.get(ACTION).map(|v| v.as_str()),
            headers.get(VERSION).map(|v| v.as_str()),
            headers.get(TENANT).map(|v| v.as_str()),
        ),
        (Some("Parcel"), Some("ship"), Some("1"), Some("t0"))
    );
    assert_eq!(
        headers.get(POSITION).map(|v| v.as_str().to_owned()),
        Some(event.position.to_string())
    );
    let input: Ship = event.decode()?;
    assert_eq!(input.to, "street 0");
    assert_eq!(
        messages[1].0,
        format!("{}.t0.Parcel.deliver", stream.prefix)
    );

    // Another machine reads it with an ordinary durable pull consumer, here
    // filtered to one tenant.
    let consumer = stream
        .jetstream
        .get_stream(&stream.name)
        .await?
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("reader".into()),
            filter_subject: format!("{}.t1.>", stream.prefix),
            ..Default::default()
        })
        .await?;
    let mut batch = consumer
        .fetch()
        .max_messages(100)
        .expires(Duration::from_millis(500))
        .messages()
        .await?;
    let mut read = Vec::new();
    while let Some(message) = futures_util::StreamExt::next(&mut batch).await {
        let message = message?;
        read.push(RelayedEvent::from_payload(&message.payload)?.position);
        message.ack().await?;
    }
    let expected: Vec<Position> = messages
        .iter()
        .filter(|(_, _, e)| e.tenant.as_deref() == Some("t1"))
        .map(|(_, _, e)| e.position)
        .collect();
    assert_eq!(read, expected, "one tenant's events, in commit order");
    assert!(!read.is_empty());

    // Live: new events follow, after the relay's saved position.
    let running = tokio::spawn({
        let relay = relay.clone();
        async move { relay.run().await }
    });
    write(&store, 4).await?; // 6 more
    stream.wait_for(21).await?;
    // The position follows the acknowledgements.
    let status = wait_for(
        "the relay to save 21 events",
        Duration::from_secs(10),
        || async {
            let status = store.consumer_status().await?;
            Ok(status.into_iter().find(|s| s.handled == 21))
        },
    )
    .await?;
    assert_eq!(status.name, "nats-relay");
    running.abort();
    assert_exactly_once(&stream, &pool).await?;
    stream.delete().await;
    Ok(())
}

#[sqlx::test]
async fn a_relay_killed_between_publish_and_checkpoint_publishes_nothing_twice(
    pool: PgPool,
) -> TestResult {
    let store = setup(&pool).await?;
    let stream = TestStream::new(&nats_url()).await?;
    // A duplicate window the restart comes after: the stream's sequence
    // chain, not the window, keeps re-sends out.
    let relay = stream
        .relay(&store)
        .batch_size(8)
        .duplicate_window(Duration::from_secs(1));
    relay.ensure_stream().await?;
    write(&store, 8).await?; // 12 events
    relay.run_until(|n| n >= 12).await?;
    write(&store, 20).await?; // 30 more

    // Checkpoints wait behind a lock: the relay publishes and is acknowledged,
    // then cannot save its position; it is killed there.
    let mut lock = pool.begin().await?;
    sqlx::query("LOCK TABLE relay_log_consumers IN EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await?;
    let killed = tokio::spawn({
        let relay = relay.clone();
        async move { relay.run().await }
    });
    // It saves once JetStream acknowledged: wait for that save to block.
    let waiting = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
                   AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'";
    let pids = wait_for(
        "the relay's save to wait",
        Duration::from_secs(10),
        || async {
            let pids: Vec<i32> = sqlx::query_scalar(waiting).fetch_all(&pool).await?;
            Ok((!pids.is_empty()).then_some(pids))
        },
    )
    .await?;
    assert!(stream.count().await? > 12, "published before the save");
    // Killed: the task and its connections, the one waiting to save included.
    killed.abort();
    let _ = killed.await;
    for pid in pids {
        sqlx::query("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .execute(&pool)
            .await?;
    }
    lock.rollback().await?;
    let status = store.consumer_status().await?;
    assert_eq!(
        status[0].handled, 12,
        "the position stayed before the batch"
    );
    assert!(stream.count().await? > 12, "the batch was published");

    tokio::time::sleep(Duration::from_millis(1_200)).await;
    relay.run_until(|n| n >= 30).await?;
    assert_exactly_once(&stream, &pool).await?;
    let status = store.consumer_status().await?;
    assert_eq!(status[0].lag_events, 0);
    stream.delete().await;
    Ok(())
}

/// A `nats-server -js` of the test's own on a free port, its store in a
/// temporary directory that outlives restarts.
struct OwnNats {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl OwnNats {
    fn start() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut own = OwnNats {
            port,
            dir: tempfile::tempdir()?,
            child: None,
        };
        own.up()?;
        Ok(own)
    }

    fn up(&mut self) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let child = Command::new("nats-server")
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting nats-server (is it installed?): {e}"))?;
        self.child = Some(child);
        Ok(())
    }

    fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnNats {
    fn drop(&mut self) {
        self.down();
    }
}

#[sqlx::test]
async fn with_nats_down_actions_go_on_and_the_relay_catches_up(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let mut nats = OwnNats::start()?;
    let stream = TestStream::new(&nats.url()).await?;
    let relay = stream.relay(&store);
    // The server just started: wait until it takes the stream.
    wait_for(
        "the own NATS to take the stream",
        Duration::from_secs(20),
        || async { Ok(relay.ensure_stream().await.ok()) },
    )
    .await?;
    let running = tokio::spawn({
        let relay = relay.clone();
        async move { relay.run().await }
    });
    write(&store, 4).await?; // 6 events
    stream.wait_for(6).await?;

    nats.down();
    // Actions neither fail nor wait while the relay retries.
    write(&store, 20).await?; // 30 events
    assert!(!running.is_finished(), "the relay keeps trying");
    // Lag counts events every reader can see: other tests' open transactions
    // may hide them for a moment.
    wait_for(
        "the relay to be 30 events behind",
        Duration::from_secs(10),
        || async {
            let status = store.consumer_status().await?;
            Ok(status.iter().any(|s| s.lag_events >= 30).then_some(()))
        },
    )
    .await?;

    nats.up()?;
    stream.wait_for(36).await?;
    running.abort();
    assert_exactly_once(&stream, &pool).await?;
    Ok(())
}

#[sqlx::test]
async fn a_stream_that_is_not_the_relays_is_refused_at_start(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let stream = TestStream::new(&nats_url()).await?;
    let relay = stream.relay(&store);
    relay.ensure_stream().await?;
    stream
        .jetstream
        .publish(format!("{}.someone.else", stream.prefix), "hello".into())
        .await?
        .await?;
    write(&store, 1).await?;
    let err = relay.run_until(|_| true).await.err();
    assert!(
        matches!(err, Some(RelayError::Foreign { sequence: 1, .. })),
        "{err:?}"
    );
    assert!(
        Relay::new(store.clone(), stream.jetstream.clone())
            .subject_prefix("bad.*.prefix")
            .ensure_stream()
            .await
            .is_err()
    );
    stream.delete().await;
    Ok(())
}
