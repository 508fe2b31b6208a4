//! Notifications: the `LISTEN` channel on which committed transactions that
//! wrote entries are announced ([`AuditLog::topic`]) and a listener on it
//! ([`AuditLog::listen`]).

use events_core::{Error, EventLog};
use sqlx::postgres::PgListener;

use super::AuditLog;

impl<L: EventLog> AuditLog<L> {
    /// The `LISTEN` channel announcing committed transactions that wrote entries
    /// (PhoenixKit's `pubsub_topic`). The payload is the transaction id: read its
    /// entries with [`AuditQuery::transaction`](events_core::audit::AuditQuery::transaction). Sent by transactions of a
    /// store with [`with_notifications(true)`](crate::PgEventStore::with_notifications)
    /// (and by sessions that set `events.notify = 'on'` themselves): off by
    /// default, because a transaction that notifies takes a global lock at
    /// commit, which serializes commits. Subscriptions
    /// ([`PgEventStore::subscribe`](crate::PgEventStore::subscribe)) listen on it.
    ///
    /// ```no_run
    /// # fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) {
    /// assert_eq!(audit.topic(), format!("{}_audit", L::TABLE));
    /// # }
    /// ```
    pub fn topic(&self) -> String {
        events_core::audit::notify_channel(L::TABLE)
    }

    /// A listener subscribed to [`topic`](Self::topic), on its own connection.
    ///
    /// ```no_run
    /// # async fn run<L: events_core::EventLog>(audit: events_postgres::AuditLog<L>) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut listener = audit.listen().await?;
    /// let txid: u64 = listener.recv().await?.payload().parse()?;
    /// # Ok(()) }
    /// ```
    pub async fn listen(&self) -> Result<PgListener, Error> {
        let mut listener = PgListener::connect_with(self.store.pool())
            .await
            .map_err(|e| Error::from_sqlx("connecting an audit listener", e))?;
        listener
            .listen(&self.topic())
            .await
            .map_err(|e| Error::from_sqlx("listening to the audit channel", e))?;
        Ok(listener)
    }
}
