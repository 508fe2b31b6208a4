//! Times outside what PostgreSQL's `timestamptz` holds (4714-11-24 BC to
//! 294276-12-31 AD) never reach SQL: every time filter and cursor of an audit
//! query is refused with `AuditError::InvalidFilter` naming the field, and a replay up
//! to a time before the range is clamped to it. chrono's latest time (262143 AD)
//! is inside the range, and accepted.

use chrono::{DateTime, Duration, Utc};
use events_core::audit::{AuditQuery, Cursor, EARLIEST_TIME, LATEST_TIME, Order};
use events_core::replay::Replay;
use events_core::{Error, EventId};
use events_postgres::PgEventStore;
use events_tests::doc::{Doc, DocLog};
use serde_json::json;
use sqlx::PgPool;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The field an `InvalidFilter` names, or the whole error when it is another.
fn refused_field(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Err(Error::Audit(events_core::AuditError::InvalidFilter { field, .. })) => field,
        other => format!("not refused as a filter: {other:?}"),
    }
}

/// Times PostgreSQL cannot hold, or that chrono's extremes give.
fn absurd_times() -> Vec<DateTime<Utc>> {
    vec![
        DateTime::<Utc>::MIN_UTC,
        EARLIEST_TIME - Duration::microseconds(1),
        DateTime::<Utc>::MAX_UTC,
    ]
}

/// Every query entry point of the audit log with `query`, the field each
/// refusal must name.
async fn assert_refused(
    store: &PgEventStore<DocLog>,
    query: AuditQuery<DocLog>,
    field: &str,
) -> TestResult {
    let audit = store.audit();
    let what = format!("{query:?}");
    assert_eq!(
        refused_field(audit.query(&query).await),
        field,
        "query {what}"
    );
    assert_eq!(
        refused_field(audit.list(&query).await),
        field,
        "list {what}"
    );
    assert_eq!(
        refused_field(audit.count(&query).await),
        field,
        "count {what}"
    );
    if field != "cursor" {
        // `list_all` reads every page itself: it ignores the query's cursor.
        assert_eq!(
            refused_field(audit.list_all(query.clone()).await),
            field,
            "list_all {what}"
        );
    }
    assert_eq!(refused_field(query.check()), field, "check {what}");
    Ok(())
}

#[sqlx::test]
async fn time_filters_outside_postgres_are_refused_with_their_field(pool: PgPool) -> TestResult {
    let store = events_tests::doc::store(&pool).await?;
    Doc::write(json!({"n": 1})).run(&store).await?;
    for at in absurd_times() {
        // The upper end of chrono's range is inside PostgreSQL's: accepted.
        let fits = at >= EARLIEST_TIME && at <= LATEST_TIME;
        let cases = [
            (AuditQuery::new().since(at), "since"),
            (AuditQuery::new().until(at), "until"),
            (AuditQuery::new().committed_since(at), "committed_since"),
            (AuditQuery::new().committed_until(at), "committed_until"),
        ];
        for (query, field) in cases {
            if fits {
                assert!(store.audit().query(&query).await.is_ok(), "{field} {at}");
            } else {
                assert_refused(&store, query, field).await?;
            }
        }
    }
    Ok(())
}

#[sqlx::test]
async fn cursors_with_absurd_times_are_refused(pool: PgPool) -> TestResult {
    let store = events_tests::doc::store(&pool).await?;
    Doc::write(json!({"n": 1})).run(&store).await?;
    let too_early = EARLIEST_TIME - Duration::microseconds(1);
    for order in [Order::OccurredDesc, Order::CommittedAsc] {
        // A cursor built by hand.
        let cursor = Cursor {
            order,
            at: too_early,
            id: EventId::Integer(1),
        };
        let query = AuditQuery::new().order(order).after(Some(cursor)).limit(10);
        assert_refused(&store, query, "cursor").await?;
        // The same cursor as text: well-formed, refused when parsed.
        let text = cursor.to_string();
        assert_eq!(refused_field(text.parse::<Cursor>()), "cursor", "{text}");
        let text = format!("c1.od.{}.i1", DateTime::<Utc>::MIN_UTC.timestamp_micros());
        assert_eq!(refused_field(text.parse::<Cursor>()), "cursor", "{text}");
    }
    // The ends of the range itself are fine (cursors keep microseconds).
    let latest = DateTime::from_timestamp_micros(LATEST_TIME.timestamp_micros())
        .ok_or("the latest time in microseconds")?;
    for at in [EARLIEST_TIME, latest] {
        let cursor = Cursor {
            order: Order::OccurredAsc,
            at,
            id: EventId::Integer(0),
        };
        assert_eq!(cursor.to_string().parse::<Cursor>()?, cursor);
        let page = store
            .audit()
            .query(
                &AuditQuery::new()
                    .order(Order::OccurredAsc)
                    .after(Some(cursor))
                    .limit(10),
            )
            .await?;
        assert_eq!(page.entries.len(), usize::from(at == EARLIEST_TIME));
    }
    Ok(())
}

#[sqlx::test]
async fn the_ends_of_the_range_are_accepted(pool: PgPool) -> TestResult {
    let store = events_tests::doc::store(&pool).await?;
    Doc::write(json!({"n": 1})).run(&store).await?;
    let audit = store.audit();
    let all = AuditQuery::new()
        .since(EARLIEST_TIME)
        .until(LATEST_TIME)
        .committed_since(EARLIEST_TIME)
        .committed_until(LATEST_TIME);
    assert_eq!(audit.list(&all).await?.len(), 1);
    assert_eq!(audit.count(&all).await?.value(), 1);
    Ok(())
}

#[sqlx::test]
async fn replay_up_to_a_time_beyond_the_range_is_clamped(pool: PgPool) -> TestResult {
    let store = events_tests::doc::store(&pool).await?;
    let id = Doc::write(json!({"n": 1})).run(&store).await?;
    let report = store
        .replay(Replay::up_to_time(DateTime::<Utc>::MAX_UTC))
        .await?;
    assert_eq!(report.applied, 1, "up to the end of time: every event");
    assert!(events_tests::doc::replayed(id).is_some());
    for at in [DateTime::<Utc>::MIN_UTC, EARLIEST_TIME - Duration::days(1)] {
        let replay = Replay::up_to_time(at);
        assert_eq!(
            replay.selection,
            events_core::replay::Selection::UpToTime(EARLIEST_TIME)
        );
        let report = store.replay(replay).await?;
        assert_eq!(report.applied, 0, "nothing occurred before the range");
        assert_eq!(
            store
                .verify_replayable(&Replay::up_to_time(at).selection)
                .await?
                .events,
            0
        );
    }
    Ok(())
}
