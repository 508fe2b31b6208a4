//! The relay: a checkpointed consumer of the log that publishes each event to
//! a JetStream stream, in the log's commit order, exactly once.

use std::time::Duration;

use std::collections::VecDeque;
use std::pin::Pin;

use async_nats::jetstream::context::{Context, PublishError, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::stream::{Config as StreamConfig, RawMessageErrorKind, StorageType};
use events_core::EventLog;
use events_postgres::PgEventStore;
use events_postgres::consume::{ConsumerCheckpoint, ConsumerError, read_ahead};
use events_postgres::follow::Position;
use events_postgres::subscribe::{Delivery, StartAt};
use futures_util::{FutureExt, StreamExt};

use crate::RelayError;
use crate::message::{POSITION, body, headers, subject};

/// Relays an event log to a JetStream stream (see the [crate docs](crate)).
#[must_use = "a relay does nothing until `.run()` is awaited"]
pub struct Relay<L: EventLog> {
    store: PgEventStore<L>,
    jetstream: Context,
    name: String,
    stream: String,
    prefix: String,
    with_tenant: bool,
    batch: usize,
    first_backoff: Duration,
    max_backoff: Duration,
    poll: Duration,
    duplicate_window: Duration,
}

impl<L: EventLog> Clone for Relay<L> {
    fn clone(&self) -> Self {
        Relay {
            store: self.store.clone(),
            jetstream: self.jetstream.clone(),
            name: self.name.clone(),
            stream: self.stream.clone(),
            prefix: self.prefix.clone(),
            ..*self
        }
    }
}

impl<L: EventLog> Relay<L> {
    /// A relay of `store`'s log through `jetstream`: consumer name
    /// `nats-relay`, stream `EVENTS`, subjects `events.<resource>.<action>`,
    /// batches of up to 256 events, retries from 100 ms doubling to 5 s.
    pub fn new(store: PgEventStore<L>, jetstream: Context) -> Self {
        Relay {
            store,
            jetstream,
            name: "nats-relay".into(),
            stream: "EVENTS".into(),
            prefix: "events".into(),
            with_tenant: false,
            batch: 256,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            poll: Duration::from_secs(1),
            duplicate_window: Duration::from_secs(120),
        }
    }

    /// The consumer name the relay's position is kept under
    /// ([`PgEventStore::consumer_status`] shows its lag).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The JetStream stream the relay publishes to. It must be the relay's
    /// own: the relay chains its messages by the stream's sequence.
    pub fn stream(mut self, stream: impl Into<String>) -> Self {
        self.stream = stream.into();
        self
    }

    /// The first token(s) of every subject, `events` by default.
    pub fn subject_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Puts the tenant in the subject, `<prefix>.<tenant>.<resource>.<action>`
    /// (`_` for events without one), so consumers can filter by tenant.
    pub fn tenant_in_subject(mut self, on: bool) -> Self {
        self.with_tenant = on;
        self
    }

    /// The relay's unit of work, 256 events by default: it keeps up to four
    /// batches published and not yet acknowledged, and saves its position
    /// after every four batches acknowledged (and whenever it is idle).
    pub fn batch_size(mut self, events: usize) -> Self {
        self.batch = events.max(1);
        self
    }

    /// How long the relay waits after a failed publish before trying again:
    /// `first`, doubling up to `max`. It never gives up.
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.first_backoff = first;
        self.max_backoff = max.max(first);
        self
    }

    /// How often a caught-up relay looks for new events when no
    /// notification wakes it (1 s by default).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval;
        self
    }

    /// The duplicate window [`ensure_stream`](Self::ensure_stream) gives a
    /// stream it creates (2 minutes by default).
    pub fn duplicate_window(mut self, window: Duration) -> Self {
        self.duplicate_window = window;
        self
    }

    /// The subjects the relay publishes on: `<prefix>.>`.
    pub fn subjects(&self) -> String {
        format!("{}.>", self.prefix)
    }

    /// Creates the stream (file storage, subjects `<prefix>.>`, the duplicate
    /// window) unless it exists; an existing stream must take those subjects.
    pub async fn ensure_stream(&self) -> Result<(), RelayError> {
        self.check_prefix()?;
        let config = StreamConfig {
            name: self.stream.clone(),
            subjects: vec![self.subjects()],
            storage: StorageType::File,
            duplicate_window: self.duplicate_window,
            ..StreamConfig::default()
        };
        let mut stream = self
            .jetstream
            .get_or_create_stream(config)
            .await
            .map_err(|e| RelayError::nats(format!("creating stream `{}`", self.stream), e))?;
        let info = stream
            .info()
            .await
            .map_err(|e| RelayError::nats(format!("reading stream `{}`", self.stream), e))?;
        if !info.config.subjects.contains(&self.subjects()) {
            return Err(RelayError::Config(format!(
                "stream `{}` exists with subjects {:?}, not `{}`: give the relay a stream of \
                 its own or another subject prefix",
                self.stream,
                info.config.subjects,
                self.subjects()
            )));
        }
        Ok(())
    }

    /// Relays events as they commit, forever: failures to publish (NATS down,
    /// a timeout) are logged and retried with backoff, never skipped, and
    /// never reach the application's actions. Returns at once when the stream
    /// holds messages the relay did not publish ([`RelayError::Foreign`]), or
    /// when another relay moved this one's position ([`RelayError::Log`]).
    pub async fn run(&self) -> Result<(), RelayError> {
        self.run_until(|_| false).await
    }

    /// Like [`run`](Self::run), and returns once `done(events so far)` is
    /// true after the position was saved (for tests, benchmarks and batch
    /// jobs). Events found already in the stream count.
    pub async fn run_until(
        &self,
        mut done: impl FnMut(u64) -> bool + Send,
    ) -> Result<(), RelayError> {
        self.check_prefix()?;
        let mut checkpoint = self
            .store
            .consumer_checkpoint(&self.name)
            .await
            .map_err(|e| RelayError::Log(e.into()))?;
        // A stream that is not the relay's is a mistake to report now; NATS
        // being down is not, the relay retries.
        if let Err(foreign @ RelayError::Foreign { .. }) = self.sync().await {
            return Err(foreign);
        }
        let mut relayed = 0_u64;
        let mut backoff = self.first_backoff;
        loop {
            let before = relayed;
            match self.pump(&mut checkpoint, &mut relayed, &mut done).await {
                Ok(()) => return Ok(()),
                Err(Pump::Stop(error)) => return Err(error),
                Err(Pump::Retry(error)) => {
                    if relayed > before {
                        backoff = self.first_backoff;
                    }
                    tracing::warn!(
                        relay = %self.name,
                        %error,
                        retry_in = ?backoff,
                        "relay: publishing failed; retrying from its saved position"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.max_backoff);
                }
            }
        }
    }

    /// Publishes from the saved position on until `done` or a failure: reads
    /// ahead, keeps up to four batches unacknowledged, saves the position
    /// after every four batches of acknowledgements and whenever it is idle.
    async fn pump(
        &self,
        checkpoint: &mut ConsumerCheckpoint<L>,
        relayed: &mut u64,
        done: &mut (impl FnMut(u64) -> bool + Send),
    ) -> Result<(), Pump> {
        let mut chain = self.sync().await.map_err(Pump::from)?;
        let deliveries = self
            .store
            .subscribe(StartAt::from(checkpoint.position()))
            .batch_size(u32::try_from((self.batch * 8).clamp(500, 5_000)).unwrap_or(5_000))
            .poll_interval(self.poll);
        let mut chunks = read_ahead(deliveries, self.batch);
        let window = self.batch * 4;
        let mut in_flight: VecDeque<(Position, Ack)> = VecDeque::with_capacity(window);
        // Acknowledged (or found in the stream) and not saved yet.
        let mut unsaved: Option<(Position, u64)> = None;
        loop {
            let chunk = if in_flight.is_empty() {
                if let Some((position, n)) = unsaved.take() {
                    self.save(checkpoint, position, n).await?;
                    *relayed += n;
                    if done(*relayed) {
                        return Ok(());
                    }
                }
                Some(chunks.next().await)
            } else if in_flight.len() < window {
                chunks.next().now_or_never()
            } else {
                None
            };
            match chunk {
                Some(Some(chunk)) => {
                    for delivery in chunk {
                        let delivery =
                            delivery.map_err(|e| Pump::Retry(ConsumerError::from(e).into()))?;
                        if chain.through.is_some_and(|t| delivery.position <= t) {
                            // In the stream already (a crash between publish
                            // and save): the chain makes these a contiguous run.
                            let n = unsaved.map_or(0, |(_, n)| n);
                            unsaved = Some((delivery.position, n + 1));
                            continue;
                        }
                        let ack = self.publish(&delivery, chain.sequence).await?;
                        chain.sequence += 1;
                        in_flight.push_back((delivery.position, ack));
                    }
                }
                Some(None) => {
                    return Err(Pump::Stop(RelayError::Config(
                        "the log's subscription ended".into(),
                    )));
                }
                None => {
                    let Some((position, ack)) = in_flight.pop_front() else {
                        continue;
                    };
                    let ack = ack.await.map_err(|e| {
                        Pump::Retry(RelayError::nats(
                            format!(
                                "waiting for stream `{}` to acknowledge the event at {position}",
                                self.stream
                            ),
                            e,
                        ))
                    })?;
                    if ack.duplicate {
                        tracing::debug!(%position, "JetStream had the event already");
                    }
                    let n = unsaved.map_or(0, |(_, n)| n) + 1;
                    unsaved = Some((position, n));
                    if n >= window as u64 {
                        unsaved = None;
                        self.save(checkpoint, position, n).await?;
                        *relayed += n;
                        if done(*relayed) {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    /// Publishes one event, expecting the stream's last sequence to be
    /// `expected`.
    async fn publish(&self, delivery: &Delivery, expected: u64) -> Result<Ack, Pump> {
        let body = body(delivery)
            .map_err(|e| Pump::Stop(RelayError::Config(format!("serializing an event: {e}"))))?;
        let message = PublishMessage::build()
            .payload(body.into())
            .headers(headers(delivery.position, &delivery.event))
            .message_id(delivery.event.id.to_string())
            .expected_last_sequence(expected);
        let ack = self
            .jetstream
            .send_publish(
                subject(&self.prefix, self.with_tenant, &delivery.event),
                message,
            )
            .await
            .map_err(|e| Pump::Retry(RelayError::publish(&self.stream, delivery, e)))?;
        Ok(ack.into_future())
    }

    /// Saves the position; a database error is retried, a moved position stops.
    async fn save(
        &self,
        checkpoint: &mut ConsumerCheckpoint<L>,
        position: Position,
        n: u64,
    ) -> Result<(), Pump> {
        match checkpoint.save(position, n).await {
            Ok(()) => Ok(()),
            Err(moved @ ConsumerError::Moved { .. }) => Err(Pump::Stop(moved.into())),
            Err(other) => Err(Pump::Retry(other.into())),
        }
    }

    /// Reads where the relay's messages end in the stream.
    async fn sync(&self) -> Result<Chain, RelayError> {
        let context = || format!("reading stream `{}`", self.stream);
        let mut stream = self
            .jetstream
            .get_stream(&self.stream)
            .await
            .map_err(|e| RelayError::nats(context(), e))?;
        let last = stream
            .info()
            .await
            .map_err(|e| RelayError::nats(context(), e))?
            .state
            .last_sequence;
        if last == 0 {
            return Ok(Chain {
                sequence: 0,
                through: None,
            });
        }
        let message = match stream.get_raw_message(last).await {
            Ok(message) => message,
            // Purged or deleted: nothing to skip, chain after it.
            Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => {
                return Ok(Chain {
                    sequence: last,
                    through: None,
                });
            }
            Err(e) => return Err(RelayError::nats(context(), e)),
        };
        let through = message
            .headers
            .get(POSITION)
            .and_then(|p| p.as_str().parse::<Position>().ok())
            .ok_or_else(|| RelayError::Foreign {
                stream: self.stream.clone(),
                sequence: last,
                subject: message.subject.to_string(),
            })?;
        Ok(Chain {
            sequence: last,
            through: Some(through),
        })
    }

    fn check_prefix(&self) -> Result<(), RelayError> {
        let valid = !self.prefix.is_empty()
            && self.prefix.split('.').all(|token| {
                !token.is_empty()
                    && token
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && !matches!(b, b'*' | b'>'))
            });
        if valid {
            Ok(())
        } else {
            Err(RelayError::Config(format!(
                "subject prefix `{}` is not a NATS subject: use tokens of visible characters \
                 separated by `.`, without `*` or `>`",
                self.prefix
            )))
        }
    }
}

/// An acknowledgement on its way.
type Ack = Pin<Box<dyn Future<Output = Result<PublishAck, PublishError>> + Send>>;

/// Why a pump stopped.
enum Pump {
    /// Start again from the saved position after a backoff.
    Retry(RelayError),
    /// End the run.
    Stop(RelayError),
}

impl From<RelayError> for Pump {
    fn from(error: RelayError) -> Self {
        match error {
            RelayError::Foreign { .. } | RelayError::Config(_) => Pump::Stop(error),
            other => Pump::Retry(other),
        }
    }
}

/// Where the relay's messages end in the stream: its last sequence and the
/// position of the event there.
#[derive(Debug, Clone, Copy)]
struct Chain {
    sequence: u64,
    through: Option<Position>,
}

impl RelayError {
    fn publish(
        stream: &str,
        delivery: &Delivery,
        error: async_nats::jetstream::context::PublishError,
    ) -> Self {
        let hint = match error.kind() {
            PublishErrorKind::WrongLastSequence => {
                "; the stream moved: the relay reads it again and goes on"
            }
            PublishErrorKind::StreamNotFound => "; create it (Relay::ensure_stream)",
            _ => "",
        };
        RelayError::nats(
            format!(
                "publishing event {} ({}.{}) to stream `{stream}`{hint}",
                delivery.event.id, delivery.event.resource, delivery.event.action
            ),
            error,
        )
    }
}
