//! Subscriptions: the log as a live [`Stream`] of committed events.
//!
//! [`PgEventStore::subscribe`] catches up from a starting point (the beginning,
//! a saved [`Position`], or now), then follows the log as transactions commit,
//! in commit-safe `(txid, id)` order ([`crate::follow`]): every committed event
//! once, none of a transaction that rolled back, never one out of order.
//!
//! - **Waking.** When the log is drained the subscription waits for the log's
//!   notification channel, which stores with
//!   [`with_notifications(true)`](PgEventStore::with_notifications) announce
//!   each commit on, and polls anyway every [`poll_interval`](Subscription::poll_interval)
//!   (1 s by default): a notification only wakes it early, so one lost while
//!   the listener reconnects, or a writer with notifications off, delays an
//!   event by one interval at most and loses nothing. An announced event that
//!   is not readable yet (an older transaction of the cluster is still open,
//!   see [`crate::follow`]) is looked for again after 10 ms, then after
//!   doubling delays up to the interval.
//! - **Failures.** A database error while reading (a dropped connection, a
//!   restarted server, a timeout) is retried from the subscription's position
//!   with a backoff doubling from 50 ms to [`max_backoff`](Subscription::max_backoff)
//!   (5 s), and reported with `tracing`; the stream neither ends nor repeats
//!   an event. An error that retrying cannot fix (a row the log cannot read
//!   back) is yielded once, and the stream ends.
//! - **Filters.** [`resource`](Subscription::resource),
//!   [`action`](Subscription::action) and [`tenant`](Subscription::tenant)
//!   narrow what is yielded; the position still moves past every event read.
//!
//! Each item is a [`Delivery`]: the event and its position. Keep the position
//! of the last event handled to resume there after a restart
//! ([`StartAt::After`]).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use events_core::{Error, Event, EventLog, Key};
use futures_core::Stream;
use serde::de::DeserializeOwned;
use sqlx::postgres::PgListener;

use crate::PgEventStore;
use crate::follow::{Position, Snapshot};

/// Where a subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// Before the first event: the whole log, then what commits next.
    Beginning,
    /// After a position a subscriber saved: what it has not seen yet.
    After(Position),
    /// After every event committed so far: only what commits next (including
    /// the events of transactions in flight when the subscription starts).
    Now,
}

impl From<Option<Position>> for StartAt {
    /// A saved position, or the beginning when none was saved yet.
    fn from(position: Option<Position>) -> Self {
        position.map_or(StartAt::Beginning, StartAt::After)
    }
}

/// One event a subscription yields, with its position in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Where the event is: save it to resume after it ([`StartAt::After`]).
    pub position: Position,
    /// The event.
    pub event: Event,
}

impl Delivery {
    /// The event's data as `T` (an action's input type), naming the field that
    /// does not fit. A personal value whose subject was erased (read as
    /// `{"$erased": true}`) decodes as `null`: `None` for an `Option` field.
    ///
    /// ```
    /// # use events_core::{ActionKind, Event, EventId, Key};
    /// # use events_postgres::follow::Position;
    /// # use events_postgres::subscribe::Delivery;
    /// #[derive(serde::Deserialize)]
    /// struct CreateUser { name: String }
    /// # let event = Event { id: EventId::Integer(1), resource: "User".into(), record_id: Key::Integer(1),
    /// #     action: "create".into(), action_type: ActionKind::Create, actor: None,
    /// #     data: serde_json::json!({"name": "Ada"}), metadata: serde_json::json!({}), version: 1,
    /// #     tenant: None, occurred_at: chrono::Utc::now() };
    /// # let delivery = Delivery { position: Position { txid: 7, id: EventId::Integer(1) }, event };
    /// let input: CreateUser = delivery.decode()?;
    /// assert_eq!(input.name, "Ada");
    /// # Ok::<(), events_core::Error>(())
    /// ```
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        events_core::__private::decode_input(
            &self.event,
            &self.event.resource,
            &self.event.action,
            None,
        )
    }

    /// [`decode`](Self::decode) for an input type that declares personal data
    /// (`#[derive(PersonalData)]`): a field that is gone (redacted, or whose
    /// subject was erased) decodes as its declared `erased` placeholder, as
    /// replay gives it to the action's body.
    ///
    /// ```
    /// # use events_core::{ActionKind, Event, EventId, Key};
    /// # use events_postgres::follow::Position;
    /// # use events_postgres::subscribe::Delivery;
    /// use events_core::personal::{PersonalData, erased};
    ///
    /// #[derive(serde::Deserialize, PersonalData)]
    /// #[personal(subject = record_id)]
    /// struct Signup {
    ///     #[personal(encrypted, erased = String::from("[erased]"))]
    ///     email: String,
    /// }
    /// # let event = Event { id: EventId::Integer(1), resource: "User".into(), record_id: Key::Integer(1),
    /// #     action: "signup".into(), action_type: ActionKind::Create, actor: None,
    /// #     data: serde_json::json!({"email": erased()}), metadata: serde_json::json!({}), version: 1,
    /// #     tenant: None, occurred_at: chrono::Utc::now() };
    /// # let delivery = Delivery { position: Position { txid: 7, id: EventId::Integer(1) }, event };
    /// let input: Signup = delivery.decode_personal()?;
    /// assert_eq!(input.email, "[erased]");
    /// # Ok::<(), events_core::Error>(())
    /// ```
    pub fn decode_personal<T: DeserializeOwned + events_core::personal::PersonalData>(
        &self,
    ) -> Result<T, Error> {
        events_core::__private::decode_input(
            &self.event,
            &self.event.resource,
            &self.event.action,
            Some(T::SCHEMA),
        )
    }
}

/// A subscription to an event log: configure it with its builder methods, then
/// poll it as a [`Stream`] of [`Delivery`]s (see the [module docs](self)).
/// Configuration set after the first poll is ignored.
///
/// ```no_run
/// # #[events_core::event_log] pub struct AppLog;
/// # async fn run(store: events_postgres::PgEventStore<AppLog>) -> Result<(), events_core::Error> {
/// use events_postgres::subscribe::StartAt;
/// use futures_util::StreamExt;
///
/// let mut users = store.subscribe(StartAt::Beginning).resource("User");
/// while let Some(delivery) = users.next().await {
///     let delivery = delivery?;
///     println!("{} {}", delivery.event.action, delivery.event.record_id);
///     // save delivery.position to resume from it after a restart
/// }
/// # Ok(()) }
/// ```
#[must_use = "a subscription does nothing until it is polled"]
pub struct Subscription<L: EventLog> {
    config: Option<Config<L>>,
    inner: Option<Deliveries>,
}

/// The running stream of a subscription.
type Deliveries = Pin<Box<dyn Stream<Item = Result<Delivery, Error>> + Send>>;

/// What a subscription was configured with.
struct Config<L: EventLog> {
    store: PgEventStore<L>,
    start: StartAt,
    resources: Vec<String>,
    actions: Vec<String>,
    tenants: Vec<String>,
    batch: i64,
    poll: Duration,
    max_backoff: Duration,
}

/// The first wait for announced events that are not readable yet.
const FIRST_HELD: Duration = Duration::from_millis(10);

/// Backoff before the first retry of a failed read.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

impl<L: EventLog> PgEventStore<L> {
    /// Subscribes to the log from `start`: a [`Stream`] of every committed
    /// event after it, in commit-safe order, caught up and then live. See
    /// [`crate::subscribe`].
    ///
    /// ```no_run
    /// # #[events_core::event_log] pub struct AppLog;
    /// # async fn run(store: events_postgres::PgEventStore<AppLog>, saved: Option<events_postgres::follow::Position>) {
    /// use events_postgres::subscribe::StartAt;
    /// let from_saved = store.subscribe(StartAt::from(saved));
    /// let live_only = store.subscribe(StartAt::Now);
    /// # }
    /// ```
    pub fn subscribe(&self, start: StartAt) -> Subscription<L> {
        Subscription {
            config: Some(Config {
                store: self.clone(),
                start,
                resources: Vec::new(),
                actions: Vec::new(),
                tenants: Vec::new(),
                batch: 500,
                poll: Duration::from_secs(1),
                max_backoff: Duration::from_secs(5),
            }),
            inner: None,
        }
    }
}

impl<L: EventLog> Subscription<L> {
    fn config(&mut self) -> Option<&mut Config<L>> {
        self.config.as_mut()
    }

    /// Yields only events of `resource` (several calls: any of them).
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        if let Some(c) = self.config() {
            c.resources.push(resource.into());
        }
        self
    }

    /// Yields only events of action `action` (several calls: any of them).
    pub fn action(mut self, action: impl Into<String>) -> Self {
        if let Some(c) = self.config() {
            c.actions.push(action.into());
        }
        self
    }

    /// Yields only events of `tenant` (several calls: any of them).
    pub fn tenant(mut self, tenant: impl Into<Key>) -> Self {
        if let Some(c) = self.config() {
            c.tenants.push(tenant.into().to_string());
        }
        self
    }

    /// How many events one read fetches while catching up (500 by default,
    /// at least 1).
    pub fn batch_size(mut self, n: u32) -> Self {
        if let Some(c) = self.config() {
            c.batch = i64::from(n.max(1));
        }
        self
    }

    /// How long a drained subscription waits for a notification before it
    /// reads again anyway (1 s by default, at least 1 ms): the longest an event
    /// waits when no notification announces it.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        if let Some(c) = self.config() {
            c.poll = interval.max(Duration::from_millis(1));
        }
        self
    }

    /// The longest wait between retries of a failing read (5 s by default).
    pub fn max_backoff(mut self, max: Duration) -> Self {
        if let Some(c) = self.config() {
            c.max_backoff = max.max(FIRST_BACKOFF);
        }
        self
    }
}

impl<L: EventLog> Stream for Subscription<L> {
    type Item = Result<Delivery, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.inner.is_none() {
            let Some(config) = self.config.take() else {
                return Poll::Ready(None);
            };
            self.inner = Some(Box::pin(run(config)));
        }
        match self.inner.as_mut() {
            Some(inner) => inner.as_mut().poll_next(cx),
            None => Poll::Ready(None),
        }
    }
}

impl<L: EventLog> std::fmt::Debug for Subscription<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Subscription");
        if let Some(c) = &self.config {
            d.field("start", &c.start)
                .field("resources", &c.resources)
                .field("actions", &c.actions)
                .field("tenants", &c.tenants);
        }
        d.field("started", &self.inner.is_some()).finish()
    }
}

/// A page of events with their positions, as read.
type Page = Result<Vec<(Position, Event)>, Error>;

/// The state of a running subscription.
struct Follower<L: EventLog> {
    config: Config<L>,
    /// The position reads continue after; `None` before the first event.
    position: Option<Position>,
    /// Whether `StartAt::Now` was resolved to a position.
    started: bool,
    /// For `StartAt::Now`: the snapshot whose committed transactions are
    /// skipped.
    skip: Option<Snapshot>,
    /// Events read and not yet yielded.
    buffer: VecDeque<(Position, Event)>,
    /// The notification listener, when connected.
    listener: Option<PgListener>,
    /// Set by a notification until a read returns events: the next wait is
    /// this short delay (see [`Follower::wait`]).
    announced: Option<Duration>,
    /// The wait before the next retry.
    backoff: Duration,
    /// Set after a fatal error was yielded.
    done: bool,
    /// While catching up: the next page, read ahead after the last page's
    /// end while the consumer handles this one.
    ahead: Option<AbortOnDrop<Page>>,
}

/// A task aborted when its handle is dropped: work read ahead for a stream
/// stops with the stream.
pub(crate) struct AbortOnDrop<T>(pub(crate) tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The stream of a subscription configured with `config`.
fn run<L: EventLog>(config: Config<L>) -> impl Stream<Item = Result<Delivery, Error>> + Send {
    let position = match config.start {
        StartAt::After(p) => Some(p),
        StartAt::Beginning | StartAt::Now => None,
    };
    let started = config.start != StartAt::Now;
    let follower = Follower {
        config,
        position,
        started,
        skip: None,
        buffer: VecDeque::new(),
        listener: None,
        announced: None,
        backoff: FIRST_BACKOFF,
        done: false,
        ahead: None,
    };
    // Boxed: the state moves in and out of each step's future, a pointer is
    // cheaper to move than the follower (its listener holds a connection).
    futures_util::stream::unfold(Box::new(follower), |mut f| async move {
        let item = f.next().await?;
        Some((item, f))
    })
}

impl<L: EventLog> Follower<L> {
    /// The next item; `None` once a fatal error was yielded.
    async fn next(&mut self) -> Option<Result<Delivery, Error>> {
        loop {
            if self.done {
                return None;
            }
            if let Some((position, event)) = self.buffer.pop_front() {
                self.position = Some(position);
                return Some(Ok(Delivery { position, event }));
            }
            if !self.started {
                match self.config.store.snapshot_now().await {
                    Ok((position, snapshot)) => {
                        self.position = position;
                        self.skip = Some(snapshot);
                        self.started = true;
                    }
                    Err(e) => match self.retry_after(e).await {
                        Ok(()) => continue,
                        Err(fatal) => return Some(Err(fatal)),
                    },
                }
            }
            self.listen().await;
            let read = match self.ahead.take() {
                Some(mut ahead) => match (&mut ahead.0).await {
                    Ok(read) => read,
                    Err(_) => self.read().await,
                },
                None => self.read().await,
            };
            let page = match read {
                Ok(page) => page,
                Err(e) => match self.retry_after(e).await {
                    Ok(()) => continue,
                    Err(fatal) => return Some(Err(fatal)),
                },
            };
            self.backoff = FIRST_BACKOFF;
            let full = i64::try_from(page.len()).unwrap_or(i64::MAX) >= self.config.batch;
            let scanned = page.last().map(|(p, _)| *p);
            if scanned.is_some() {
                self.announced = None;
            }
            if full {
                // Catching up: read the next page while this one is handled.
                // Each read is commit-safe on its own, so reading ahead from
                // this page's end skips nothing.
                let store = self.config.store.clone();
                let batch = self.config.batch;
                self.ahead = Some(AbortOnDrop(tokio::spawn(async move {
                    store.read_positions(scanned, batch).await
                })));
            }
            let kept: Vec<_> = page
                .into_iter()
                .filter(|(p, e)| {
                    self.matches(e) && !self.skip.as_ref().is_some_and(|s| s.finished(p.txid))
                })
                .collect();
            self.buffer.extend(kept);
            if self.buffer.is_empty() {
                // Every event read was filtered out: move past them.
                if scanned.is_some() {
                    self.position = scanned;
                }
                if !full {
                    self.wait().await;
                }
            }
        }
    }

    /// Reads the page after the subscription's position.
    async fn read(&self) -> Page {
        self.config
            .store
            .read_positions(self.position, self.config.batch)
            .await
    }

    /// Whether `event` passes the subscription's filters.
    fn matches(&self, event: &Event) -> bool {
        let c = &self.config;
        (c.resources.is_empty() || c.resources.contains(&event.resource))
            && (c.actions.is_empty() || c.actions.contains(&event.action))
            && (c.tenants.is_empty()
                || event.tenant.as_ref().is_some_and(|t| c.tenants.contains(t)))
    }

    /// Connects the notification listener if it is not connected; without
    /// one the subscription polls.
    async fn listen(&mut self) {
        if self.listener.is_some() {
            return;
        }
        let pool = self.config.store.pool();
        let channel = events_core::audit::notify_channel(L::TABLE);
        let listener = async {
            let mut listener = PgListener::connect_with(pool).await?;
            listener.listen(&channel).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match listener.await {
            Ok(listener) => self.listener = Some(listener),
            Err(e) => tracing::debug!(error = %e, "subscription polls: no notification listener"),
        }
    }

    /// Waits for a notification or the poll interval, whichever comes first.
    /// After a notification whose events were not readable yet (an older
    /// transaction, of any database of the cluster, still open), it waits a
    /// short, doubling delay instead of the whole interval: the events become
    /// readable when that transaction ends, which may announce nothing.
    async fn wait(&mut self) {
        let poll = match self.announced {
            Some(held) => {
                self.announced = Some((held * 2).min(self.config.poll));
                held
            }
            None => self.config.poll,
        };
        let Some(listener) = self.listener.as_mut() else {
            tokio::time::sleep(poll).await;
            return;
        };
        tokio::select! {
            received = listener.try_recv() => match received {
                Ok(Some(_)) => {
                    // One read serves every commit announced so far.
                    while listener.next_buffered().is_some() {}
                    if self.announced.is_none() {
                        self.announced = Some(FIRST_HELD.min(self.config.poll));
                    }
                }
                // The connection was lost (notifications may have been missed):
                // read now; the listener reconnects on its next use.
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "subscription listener failed; reconnecting");
                    self.listener = None;
                }
            },
            () = tokio::time::sleep(poll) => {}
        }
    }

    /// After a failed read: waits out the backoff and returns `Ok` to retry
    /// when the error is the database's (connection, server, timeout), or
    /// gives the error back, ending the stream, when retrying cannot help.
    async fn retry_after(&mut self, error: Error) -> Result<(), Error> {
        if !matches!(error, Error::Database { .. } | Error::Timeout { .. }) {
            self.done = true;
            return Err(error);
        }
        tracing::warn!(
            error = %error,
            retry_in = ?self.backoff,
            position = ?self.position,
            "subscription read failed; retrying from its position"
        );
        tokio::time::sleep(self.backoff).await;
        self.backoff = (self.backoff * 2).min(self.config.max_backoff);
        Ok(())
    }
}
