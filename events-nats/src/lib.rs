//! Fan-out beyond one machine: a relay from the event log to a NATS JetStream
//! stream.
//!
//! The [`Relay`] follows the log as a checkpointed consumer
//! ([`events_postgres::consume`]) and publishes each committed event to a
//! JetStream stream, in the log's commit order, on subject
//! `<prefix>.<resource>.<action>` (or `<prefix>.<tenant>.<resource>.<action>`
//! with [`Relay::tenant_in_subject`]). Consumers on other machines read the
//! stream with ordinary JetStream durable consumers; the message body is the
//! event as JSON ([`RelayedEvent`]), the headers name its resource, action,
//! version, tenant and actor (see [`message`]).
//!
//! **Exactly once in the stream.** The relay saves its position (in the log's
//! `<table>_consumers` table, under [`Relay::name`]) only after JetStream
//! acknowledged every message of a batch. A relay stopped between the two
//! publishes the batch again when it restarts, and the stream still holds each
//! event once:
//! - each message carries the event id as `Nats-Msg-Id`, so JetStream drops a
//!   re-send within the stream's duplicate window;
//! - each message expects the stream's last sequence to be its predecessor's
//!   (`Nats-Expected-Last-Sequence`), so the stream is always an unbroken run
//!   of the log in commit order: a message whose predecessor was lost is
//!   refused rather than stored out of order, and after a restart the relay
//!   reads the last message's `Events-Position` and skips what the stream
//!   already holds, however long it was down.
//!
//! The stream must therefore be the relay's own: [`Relay::ensure_stream`]
//! creates it with subjects `<prefix>.>`.
//!
//! **Failures.** When NATS is down or slow the relay logs, waits (100 ms
//! doubling to 5 s, [`Relay::backoff`]) and tries again, forever; it catches up
//! when NATS is back. It only reads the log: the application's actions never
//! wait for it and never fail because of it. Its lag is in
//! [`PgEventStore::consumer_status`](events_postgres::PgEventStore::consumer_status).
//!
//! ```no_run
//! # #[events_core::event_log] pub struct AppLog;
//! # async fn run(store: events_postgres::PgEventStore<AppLog>) -> Result<(), Box<dyn std::error::Error>> {
//! use events_nats::Relay;
//!
//! // Connects in the background and reconnects forever: the relay starts
//! // even when NATS is down.
//! let client = events_nats::async_nats::ConnectOptions::new()
//!     .retry_on_initial_connect()
//!     .connect("127.0.0.1:4222")
//!     .await?;
//! let relay = Relay::new(store, events_nats::async_nats::jetstream::new(client))
//!     .stream("APP_EVENTS")
//!     .subject_prefix("app.events");
//! relay.ensure_stream().await?;
//! relay.run().await?; // in a task of its own
//! # Ok(()) }
//! ```

pub mod message;
mod relay;

pub use message::{Actor, RelayedEvent};
pub use relay::Relay;

/// Re-exported so the relay's users name the same client version.
pub use async_nats;

use events_postgres::consume::ConsumerError;

/// Why a relay could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// A NATS request failed (retried while running; returned at start).
    #[error("{context}: {source}; check that NATS answers and has JetStream enabled")]
    Nats {
        /// What the relay was doing.
        context: String,
        /// The client's error.
        source: events_core::BoxError,
    },
    /// The stream's last message was not published by a relay: the relay
    /// cannot tell where the log stands in it.
    #[error(
        "stream `{stream}` holds a message the relay did not publish (sequence {sequence}, \
         subject `{subject}`): give the relay a stream of its own (Relay::ensure_stream creates \
         one), or remove the foreign messages"
    )]
    Foreign {
        /// The stream.
        stream: String,
        /// The message's sequence.
        sequence: u64,
        /// The message's subject.
        subject: String,
    },
    /// The relay's configuration or the stream's does not fit.
    #[error("{0}")]
    Config(String),
    /// Reading the log or saving the position failed.
    #[error(transparent)]
    Log(#[from] ConsumerError),
}

impl RelayError {
    pub(crate) fn nats(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        RelayError::Nats {
            context: context.into(),
            source: Box::new(source),
        }
    }
}
