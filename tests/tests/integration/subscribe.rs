//! Subscriptions on a real PostgreSQL: every committed event once, in
//! `(txid, id)` order, with writers committing out of id order and rolling
//! back; starting from the beginning, a saved position or now; woken by
//! notifications; surviving terminated connections; filtered.

use std::collections::HashSet;
use std::time::Duration;

use events_core::{ActionCtx, Error, EventId, event_log, events};
use events_postgres::PgEventStore;
use events_postgres::follow::Position;
use events_postgres::subscribe::{Delivery, StartAt, Subscription};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Per-record locks, so writers on different notes commit concurrently.
#[event_log(advisory_lock_scope = record, table = "feed_log")]
pub struct FeedLog;

/// A note; its body may sleep (to commit late) or fail (to roll back).
pub struct Note;

/// Input of `Note::write`.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Write {
    text: String,
    /// Milliseconds the body sleeps after its event was appended.
    sleep_ms: u32,
    /// The body fails after sleeping: the event rolls back.
    fail: bool,
}

#[events(event_log = FeedLog)]
impl Note {
    /// Writes a note.
    #[create]
    pub async fn write(ctx: &mut ActionCtx<'_>, input: Write) -> Result<(), Error> {
        sqlx::query("SELECT pg_sleep($1::float8 / 1000)")
            .bind(f64::from(input.sleep_ms))
            .execute(ctx.conn())
            .await?;
        if input.fail {
            return Err(Error::InvalidValue {
                column: "text".into(),
                message: "asked to fail".into(),
            });
        }
        Ok(())
    }
}

/// Another resource, for filters.
pub struct Tag;

#[events(event_log = FeedLog)]
impl Tag {
    /// Adds a tag.
    #[create]
    pub async fn add(_ctx: &mut ActionCtx<'_>, _name: String) -> Result<(), Error> {
        Ok(())
    }
}

fn write(text: &str, sleep_ms: u32, fail: bool) -> Write {
    Write {
        text: text.to_owned(),
        sleep_ms,
        fail,
    }
}

async fn setup(pool: &PgPool, notify: bool) -> Result<PgEventStore<FeedLog>, Error> {
    let store = PgEventStore::<FeedLog>::new(pool.clone()).with_notifications(notify);
    store.migrate().await?;
    Ok(store)
}

/// Takes `n` deliveries, failing after `within`.
async fn take(
    sub: &mut Subscription<FeedLog>,
    n: usize,
    within: Duration,
) -> Result<Vec<Delivery>, Box<dyn std::error::Error + Send + Sync>> {
    let mut out = Vec::with_capacity(n);
    tokio::time::timeout(within, async {
        while out.len() < n {
            match sub.next().await {
                Some(delivery) => out.push(delivery?),
                None => {
                    return Err::<(), Box<dyn std::error::Error + Send + Sync>>(
                        "the subscription ended".into(),
                    );
                }
            }
        }
        Ok(())
    })
    .await
    .map_err(|_| format!("only {} of {n} events within {within:?}", out.len()))??;
    Ok(out)
}

/// The ids of every committed event, in `(txid, id)` order.
async fn committed_ids(pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM feed_log WHERE action_type <> 'manual' ORDER BY txid, id")
        .fetch_all(pool)
        .await
}

#[sqlx::test]
async fn a_subscriber_sees_every_committed_event_once_in_commit_order(pool: PgPool) -> TestResult {
    let store = setup(&pool, true).await?;
    let (writers_n, notes_n) = (8_u32, 12_u32);
    let expected = (0..writers_n)
        .flat_map(|w| (0..notes_n).map(move |i| (w + i) % 5 != 0))
        .filter(|ok| *ok)
        .count();
    // The subscriber follows while the writers write.
    let mut early = store
        .subscribe(StartAt::Beginning)
        .poll_interval(Duration::from_millis(200));
    let subscriber = tokio::spawn(async move {
        let seen = take(&mut early, expected, Duration::from_secs(60)).await;
        (early, seen)
    });
    let mut writers = Vec::new();
    for w in 0..writers_n {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let mut committed = 0_usize;
            for i in 0..notes_n {
                // Sleeps of 0 to 30 ms after the append: ids are taken in one
                // order, commits happen in another.
                let sleep = (w * 7 + i * 13) % 31;
                let fail = (w + i) % 5 == 0;
                let result = Note::write(write(&format!("{w}-{i}"), sleep, fail))
                    .run(&store)
                    .await;
                match (result, fail) {
                    (Ok(()), false) => committed += 1,
                    (Err(_), true) => {}
                    (other, _) => return Err(format!("writer {w}, note {i}: {other:?}")),
                }
            }
            Ok(committed)
        }));
    }
    let mut committed = 0;
    for writer in writers {
        committed += writer.await??;
    }
    assert_eq!(committed, expected);
    let (mut early, seen) = subscriber.await?;
    let seen = seen?;
    let ids: Vec<i64> = seen
        .iter()
        .map(|d| match d.event.id {
            EventId::Integer(i) => i,
            EventId::Uuid(_) => -1,
        })
        .collect();
    assert_eq!(
        ids,
        committed_ids(&pool).await?,
        "every committed event, in (txid, id) order"
    );
    assert!(seen.windows(2).all(|w| w[0].position < w[1].position));
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "no event twice"
    );
    assert!(
        seen.iter()
            .all(|d| d.decode::<Write>().is_ok_and(|w| !w.fail))
    );

    // Nothing more arrives: the rolled-back events never do.
    let extra = tokio::time::timeout(Duration::from_millis(600), early.next()).await;
    assert!(
        extra.is_err(),
        "no event beyond the committed ones: {extra:?}"
    );
    Ok(())
}

#[sqlx::test]
async fn now_skips_the_past_and_a_saved_position_resumes_after_it(pool: PgPool) -> TestResult {
    let store = setup(&pool, false).await?;
    for i in 0..3 {
        Note::write(write(&format!("old {i}"), 0, false))
            .run(&store)
            .await?;
    }
    let mut live = store
        .subscribe(StartAt::Now)
        .poll_interval(Duration::from_millis(50));
    // The first poll resolves "now" before anything new commits.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), live.next())
            .await
            .is_err()
    );
    for i in 0..3 {
        Note::write(write(&format!("new {i}"), 0, false))
            .run(&store)
            .await?;
    }
    let seen = take(&mut live, 3, Duration::from_secs(10)).await?;
    let texts: Vec<String> = seen
        .iter()
        .map(|d| d.decode::<Write>().map(|w| w.text))
        .collect::<Result<_, _>>()?;
    assert_eq!(texts, ["new 0", "new 1", "new 2"]);

    // Resuming after the first of them yields the other two, and nothing before.
    let saved: Position = seen[0].position;
    let mut resumed = store
        .subscribe(StartAt::After(saved))
        .poll_interval(Duration::from_millis(50));
    let again = take(&mut resumed, 2, Duration::from_secs(10)).await?;
    assert_eq!(again, seen[1..].to_vec());
    let mut all = store
        .subscribe(StartAt::from(None))
        .poll_interval(Duration::from_millis(50));
    assert_eq!(take(&mut all, 6, Duration::from_secs(10)).await?.len(), 6);
    Ok(())
}

#[sqlx::test]
async fn notifications_wake_a_subscriber_long_before_its_poll(pool: PgPool) -> TestResult {
    // A poll interval of a minute: only a notification can deliver in time.
    let notifying = setup(&pool, true).await?;
    assert!(notifying.notifications());
    let mut sub = notifying
        .subscribe(StartAt::Now)
        .poll_interval(Duration::from_secs(60));
    // Let the subscription resolve "now" and connect its listener.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), sub.next())
            .await
            .is_err()
    );
    Note::write(write("wake up", 0, false))
        .run(&notifying)
        .await?;
    let seen = take(&mut sub, 1, Duration::from_secs(5)).await?;
    assert_eq!(seen[0].decode::<Write>()?.text, "wake up");

    // A writer without notifications is only seen at the next poll. (Let the
    // subscription read and go back to waiting first.)
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), sub.next())
            .await
            .is_err()
    );
    let quiet = PgEventStore::<FeedLog>::new(pool.clone());
    assert!(!quiet.notifications());
    Note::write(write("quietly", 0, false)).run(&quiet).await?;
    assert!(
        tokio::time::timeout(Duration::from_secs(2), sub.next())
            .await
            .is_err(),
        "a commit that did not notify must wait for the poll"
    );
    // Manual audit entries notify too (the audit feed), but are not events.
    notifying
        .audit()
        .track(events_core::audit::ManualEntry::new("note.exported"))
        .await?;
    let delivered = take(&mut sub, 1, Duration::from_secs(5)).await?;
    assert_eq!(delivered[0].decode::<Write>()?.text, "quietly");
    Ok(())
}

#[sqlx::test]
async fn a_subscriber_whose_connections_are_terminated_resumes_from_its_position(
    pool: PgPool,
) -> TestResult {
    let store = setup(&pool, true).await?;
    let mut sub = store
        .subscribe(StartAt::Beginning)
        .poll_interval(Duration::from_millis(100));
    for i in 0..5 {
        Note::write(write(&format!("before {i}"), 0, false))
            .run(&store)
            .await?;
    }
    let first = take(&mut sub, 5, Duration::from_secs(10)).await?;
    // Every other backend of this database: the listener and the pool's.
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(&pool)
    .await?;
    assert!(killed >= 1, "the listener's connection at least");
    for i in 0..5 {
        // The pool hands out fresh connections after the terminations; a call
        // that drew a dead one fails and is retried by the test, as a caller would.
        let mut tries = 0;
        while Note::write(write(&format!("after {i}"), 0, false))
            .run(&store)
            .await
            .is_err()
        {
            tries += 1;
            assert!(tries < 5, "the pool recovers");
        }
    }
    let rest = take(&mut sub, 5, Duration::from_secs(20)).await?;
    let texts: Vec<String> = first
        .iter()
        .chain(&rest)
        .map(|d| d.decode::<Write>().map(|w| w.text))
        .collect::<Result<_, _>>()?;
    let expected: Vec<String> = (0..5)
        .map(|i| format!("before {i}"))
        .chain((0..5).map(|i| format!("after {i}")))
        .collect();
    assert_eq!(texts, expected, "nothing lost, nothing repeated");
    Ok(())
}

#[sqlx::test]
async fn filters_yield_only_matching_events_and_move_past_the_others(pool: PgPool) -> TestResult {
    let store = setup(&pool, false).await?;
    for i in 0..4 {
        Tag::add(format!("tag {i}")).run(&store).await?;
        Note::write(write(&format!("note {i}"), 0, false))
            .tenant(i64::from(i % 2))
            .run(&store)
            .await?;
    }
    let mut notes = store
        .subscribe(StartAt::Beginning)
        .resource("Note")
        .tenant(1_i64)
        .batch_size(1)
        .poll_interval(Duration::from_millis(50));
    let seen = take(&mut notes, 2, Duration::from_secs(10)).await?;
    let texts: Vec<String> = seen
        .iter()
        .map(|d| d.decode::<Write>().map(|w| w.text))
        .collect::<Result<_, _>>()?;
    assert_eq!(texts, ["note 1", "note 3"]);
    let mut tags = store
        .subscribe(StartAt::Beginning)
        .action("add")
        .poll_interval(Duration::from_millis(50));
    assert!(
        take(&mut tags, 4, Duration::from_secs(10))
            .await?
            .iter()
            .all(|d| d.event.resource == "Tag")
    );
    Ok(())
}

#[sqlx::test]
async fn now_delivers_transactions_in_flight_and_skips_every_committed_one(
    pool: PgPool,
) -> TestResult {
    use events_core::store::NewEvent;
    use events_core::{ActionKind, EventStore as _, Key};

    let store = setup(&pool, true).await?;
    // In flight when the subscription starts: an event appended by hand in a
    // transaction left open.
    let (data, metadata) = (
        serde_json::to_value(write("in flight", 0, false))?,
        serde_json::json!({}),
    );
    let record = Key::Uuid(uuid::Uuid::now_v7());
    let mut open = store.begin().await?;
    store
        .append(
            &mut open,
            None,
            &NewEvent {
                resource: "Note",
                record_id: &record,
                action: "write",
                action_type: ActionKind::Create,
                actor: None,
                data: &data,
                metadata: &metadata,
                version: 1,
                tenant: None,
                personal: None,
            },
            None,
        )
        .await?;
    // Committed before the subscription starts, though not yet safe to read
    // (the open transaction has the lower transaction id): never delivered.
    Note::write(write("before", 0, false)).run(&store).await?;

    let mut live = store
        .subscribe(StartAt::Now)
        .poll_interval(Duration::from_millis(50));
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), live.next())
            .await
            .is_err()
    );
    Note::write(write("after", 0, false)).run(&store).await?;
    open.commit().await?;
    let seen = take(&mut live, 2, Duration::from_secs(10)).await?;
    let texts: Vec<String> = seen
        .iter()
        .map(|d| d.decode::<Write>().map(|w| w.text))
        .collect::<Result<_, _>>()?;
    assert_eq!(
        texts,
        ["in flight", "after"],
        "in (txid, id) order, without \"before\""
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(500), live.next())
            .await
            .is_err()
    );
    Ok(())
}
