//! Wake-ups for live readers (the API's stream, the console's live feed): one
//! `LISTEN` connection per router, shared by every open stream, instead of one
//! per stream, which would hold a pooled connection for each open browser tab.
//!
//! The listener starts with the first stream and stops when the last one
//! closes. It only wakes readers: a notification's payload (a transaction id)
//! is never sent to a client, and readers read what is new through their own
//! scoped follower, so waking a reader that may see nothing new is harmless.
//! A store with notifications off has no listener: its readers poll.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use events_core::EventLog;
use events_postgres::AuditLog;
use tokio::sync::watch;

/// How long the listener waits before connecting again after an error.
const RETRY: Duration = Duration::from_secs(1);

/// The shared `LISTEN` connection of one router, started on demand.
#[derive(Debug, Default)]
pub(crate) struct Wakeups {
    /// The running listener's channel, while some reader holds a receiver.
    sender: Mutex<Weak<watch::Sender<u64>>>,
}

impl Wakeups {
    /// A receiver whose value changes whenever a transaction that wrote to
    /// the log commits (and after the listener reconnects, when some may have
    /// been missed); `None` when the store does not send notifications, so
    /// the reader must poll.
    pub(crate) fn subscribe<L: EventLog>(
        &self,
        audit: &AuditLog<L>,
    ) -> Option<watch::Receiver<u64>> {
        if !audit.store().notifications() {
            return None;
        }
        let mut slot = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = slot.upgrade() {
            return Some(sender.subscribe());
        }
        let (sender, receiver) = watch::channel(0);
        let sender = Arc::new(sender);
        *slot = Arc::downgrade(&sender);
        tokio::spawn(listen(audit.clone(), sender));
        Some(receiver)
    }
}

/// Listens until every receiver is gone, reconnecting after errors.
async fn listen<L: EventLog>(audit: AuditLog<L>, sender: Arc<watch::Sender<u64>>) {
    let wake = |sender: &watch::Sender<u64>| sender.send_modify(|n| *n = n.wrapping_add(1));
    loop {
        let connected = tokio::select! {
            () = sender.closed() => return,
            connected = audit.listen() => connected,
        };
        let mut listener = match connected {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "events-http: listening for new entries failed; readers poll until it reconnects");
                tokio::select! {
                    () = sender.closed() => return,
                    () = tokio::time::sleep(RETRY) => continue,
                }
            }
        };
        // Notifications sent while not connected are lost: wake every reader.
        wake(&sender);
        loop {
            let received = tokio::select! {
                () = sender.closed() => return,
                received = listener.try_recv() => received,
            };
            match received {
                // `None`: the connection was lost and re-established.
                Ok(_) => wake(&sender),
                Err(error) => {
                    tracing::warn!(%error, "events-http: the listener's connection failed; reconnecting");
                    break;
                }
            }
        }
    }
}
