//! The relay: a checkpointed consumer of the log that publishes each event to
//! a JetStream stream, in the log's commit order, exactly once.

use std::time::Duration;

use async_nats::jetstream::context::{Context, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{Config as StreamConfig, StorageType};
use events_core::{BoxError, BoxFuture, EventLog};
use events_postgres::PgEventStore;
use events_postgres::consume::{Consumer, RetryPolicy};
use events_postgres::follow::Position;
use events_postgres::subscribe::Delivery;
use sqlx::PgConnection;
use tokio::sync::Mutex;

use crate::RelayError;
use crate::message::{POSITION, RelayedEvent, subject};

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

    /// Publishes up to `events` events (already read) before waiting for
    /// their acknowledgements and saving the position once (256 by default).
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
    /// holds messages the relay did not publish
    /// ([`RelayError::Foreign`]), and when the log cannot be read.
    pub async fn run(&self) -> Result<(), RelayError> {
        self.run_until(|_| false).await
    }

    /// Like [`run`](Self::run), and returns once `done(events so far)` is
    /// true after a batch (for tests, benchmarks and batch jobs).
    pub async fn run_until(&self, done: impl FnMut(u64) -> bool + Send) -> Result<(), RelayError> {
        self.check_prefix()?;
        let publisher = Publisher {
            name: self.name.clone(),
            jetstream: self.jetstream.clone(),
            stream: self.stream.clone(),
            prefix: self.prefix.clone(),
            with_tenant: self.with_tenant,
            chain: Mutex::new(None),
        };
        // A stream that is not the relay's is a mistake to report now; NATS
        // being down is not, the runner retries.
        match publisher.sync().await {
            Ok(chain) => *publisher.chain.lock().await = Some(chain),
            Err(foreign @ RelayError::Foreign { .. }) => return Err(foreign),
            Err(other) => tracing::warn!(error = %other, "relay: NATS not ready; retrying"),
        }
        self.store
            .consume(publisher)
            .batch_size(self.batch)
            .poll_interval(self.poll)
            .retry(RetryPolicy {
                attempts: u32::MAX,
                first_backoff: self.first_backoff,
                max_backoff: self.max_backoff,
            })
            .run_until(done)
            .await
            .map_err(RelayError::from)
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

/// Where the relay's messages end in the stream: its last sequence and the
/// position of the event there.
#[derive(Debug, Clone, Copy)]
struct Chain {
    sequence: u64,
    through: Option<Position>,
}

/// The relay's consumer: publishes a batch pipelined, each message expecting
/// the stream's last sequence to be its predecessor's, and returns once all
/// are acknowledged; the runner then saves the position.
struct Publisher {
    name: String,
    jetstream: Context,
    stream: String,
    prefix: String,
    with_tenant: bool,
    /// Unknown (None) at start and after a failure: read from the stream.
    chain: Mutex<Option<Chain>>,
}

impl Consumer for Publisher {
    fn name(&self) -> &str {
        &self.name
    }

    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        self.handle_batch(tx, std::slice::from_ref(delivery))
    }

    fn handle_batch<'a>(
        &'a self,
        _tx: &'a mut PgConnection,
        batch: &'a [Delivery],
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            let mut chain = self.chain.lock().await;
            let result = self.publish(&mut chain, batch).await;
            if result.is_err() {
                *chain = None;
            }
            result.map_err(BoxError::from)
        })
    }
}

impl Publisher {
    async fn publish(
        &self,
        chain: &mut Option<Chain>,
        batch: &[Delivery],
    ) -> Result<(), RelayError> {
        let mut at = match *chain {
            Some(at) => at,
            None => self.sync().await?,
        };
        // Events after a crash between publish and checkpoint are in the
        // stream already: the chain makes them a contiguous run ending at
        // `through`.
        let fresh = batch
            .iter()
            .filter(|d| at.through.is_none_or(|through| d.position > through));
        let mut acks = Vec::with_capacity(batch.len());
        for (expected, delivery) in (at.sequence..).zip(fresh) {
            let event = RelayedEvent::from_delivery(delivery);
            let body = serde_json::to_vec(&event).map_err(|e| RelayError::Config(e.to_string()))?;
            let message = PublishMessage::build()
                .payload(body.into())
                .headers(event.headers())
                .message_id(event.id.to_string())
                .expected_last_sequence(expected);
            let ack = self
                .jetstream
                .send_publish(
                    subject(&self.prefix, self.with_tenant, &delivery.event),
                    message,
                )
                .await
                .map_err(|e| RelayError::publish(&self.stream, delivery, e))?;
            acks.push((delivery, ack));
        }
        for (delivery, ack) in acks {
            let ack = ack
                .await
                .map_err(|e| RelayError::publish(&self.stream, delivery, e))?;
            if ack.duplicate {
                // Already stored: the sequence did not move; read it again.
                tracing::debug!(event = %delivery.event.id, "JetStream had the event already");
                at = self.sync().await?;
            } else {
                at = Chain {
                    sequence: ack.sequence,
                    through: Some(delivery.position),
                };
            }
        }
        *chain = Some(at);
        Ok(())
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
            Err(e)
                if e.kind()
                    == async_nats::jetstream::stream::RawMessageErrorKind::NoMessageFound =>
            {
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
