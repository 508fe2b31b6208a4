//! The replay preflight's count of events with erased personal data: events
//! whose data holds an encrypted value of a subject erased since (its key
//! deleted, or replaced by a newer one), which replay hands to the body as the
//! field's `erased` placeholder.

use std::collections::BTreeSet;

use events_core::personal::SEAL_KEY;
use events_core::{Error, EventLog};
use sqlx::PgConnection;

use super::Range;
use crate::PgEventStore;
use crate::follow::Position;
use crate::sql::{self, Sql};

/// The top-level values of `e.data` (an empty object when it is not one).
const FIELDS: &str = "jsonb_each(CASE WHEN jsonb_typeof(e.data) = 'object' THEN e.data \
                      ELSE '{}'::jsonb END) AS f(name, v)";

impl<L: EventLog> PgEventStore<L> {
    /// How many events of the range after `after` carry an encrypted value
    /// whose subject was erased. Two scans of the range's events with
    /// encrypted data at most (none when no subject of the range is erased).
    /// Without a key provider, a subject counts as erased when it has no key
    /// at all.
    pub(super) async fn count_erased(
        &self,
        conn: &mut PgConnection,
        after: &Position,
        range: &Range,
    ) -> Result<u64, Error> {
        let sealed = format!(" AND jsonb_typeof(e.data) = 'object' AND e.data ? '{SEAL_KEY}'");
        let envelope = format!("jsonb_typeof(f.v) = 'object' AND f.v ? '{SEAL_KEY}' AND f.v ? 'c'");
        // The (subject, key id) pairs the range's envelopes were encrypted with.
        let mut s = Sql::new("SELECT DISTINCT f.v->>'s', f.v->>'k' FROM ");
        s.push(&self.statements().names.table)
            .push(" e, ")
            .push(FIELDS);
        Self::select_range(&mut s, after, range)?;
        s.push(&sealed).push(" AND ").push(&envelope);
        let rows =
            s.query().fetch_all(&mut *conn).await.map_err(|e| {
                Error::from_sqlx("listing the data subjects of the replayed events", e)
            })?;
        let mut pairs = Vec::with_capacity(rows.len());
        for row in &rows {
            let subject: Option<String> = sql::get(row, (0, "subject"))?;
            let key: Option<String> = sql::get(row, (1, "key id"))?;
            pairs.push((subject.unwrap_or_default(), key.unwrap_or_default()));
        }
        if pairs.is_empty() {
            return Ok(0);
        }
        let subjects: BTreeSet<String> = pairs.iter().map(|(s, _)| s.clone()).collect();
        let erased: Vec<&(String, String)> = match self.keyring() {
            Some(keyring) => {
                let keys = keyring.load(conn, self.statements(), &subjects).await?;
                pairs
                    .iter()
                    .filter(|(s, k)| keys.get(s).is_none_or(|key| key.id() != *k))
                    .collect()
            }
            None => {
                let rows = sql::query(&self.statements().personal.load_keys)
                    .bind(subjects.iter().collect::<Vec<_>>())
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(|e| Error::from_sqlx("reading data subjects' keys", e))?;
                let with_key = rows
                    .iter()
                    .map(|row| sql::get::<String>(row, (0, "subject")))
                    .collect::<Result<BTreeSet<_>, _>>()?;
                pairs
                    .iter()
                    .filter(|(s, _)| !with_key.contains(s))
                    .collect()
            }
        };
        if erased.is_empty() {
            return Ok(0);
        }
        let (gone_subjects, gone_keys): (Vec<String>, Vec<String>) =
            erased.into_iter().cloned().unzip();
        let mut s = Sql::new("SELECT count(*) FROM ");
        s.push(&self.statements().names.table).push(" e");
        Self::select_range(&mut s, after, range)?;
        s.push(&sealed)
            .push(" AND EXISTS (SELECT 1 FROM ")
            .push(FIELDS)
            .push(" JOIN unnest(")
            .bind("subjects", gone_subjects)?
            .push("::text[], ")
            .bind("key ids", gone_keys)?
            .push("::text[]) AS x(s, k) ON f.v->>'s' = x.s AND f.v->>'k' = x.k WHERE ")
            .push(&envelope)
            .push(")");
        let row =
            s.query().fetch_one(&mut *conn).await.map_err(|e| {
                Error::from_sqlx("counting the replayed events with erased data", e)
            })?;
        let count: i64 = sql::get(&row, (0, "count"))?;
        Ok(count.unsigned_abs())
    }
}
