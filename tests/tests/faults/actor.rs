//! Recorded actions on a log whose actor column has `allow_nil = false`:
//! without an actor, single, bulk and `each(..)` calls fail with
//! `Error::MissingActor` before any SQL (no connection taken, nothing
//! written); with one they run; ignored actions, which write no event, need
//! none.

use std::time::Duration;

use events_core::{Error, each};
use events_postgres::PgEventStore;
use events_tests::strict_actor::{self, Entry, Operator, PostEntry, StrictLog};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// `(events, entries)`: rows in the event table and in the application table.
async fn counts(pool: &PgPool) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as("SELECT (SELECT count(*) FROM strict_events), (SELECT count(*) FROM entries)")
        .fetch_one(pool)
        .await
}

/// Asserts `result` is the missing-actor error of `Entry.<action>`.
fn assert_missing_actor<T: std::fmt::Debug>(result: Result<T, Error>, expected_action: &str) {
    match result {
        Err(Error::MissingActor {
            resource,
            action,
            column,
        }) => {
            assert_eq!(resource, "Entry");
            assert_eq!(action, expected_action);
            assert_eq!(column, "operator_id");
        }
        other => panic!("expected MissingActor for Entry.{expected_action}, got {other:?}"),
    }
}

fn amount(cents: i64) -> PostEntry {
    PostEntry { amount: cents }
}

#[sqlx::test(migrations = false)]
async fn single_call_without_actor_is_refused_before_any_sql(pool: PgPool) -> TestResult {
    let store = strict_actor::store(&pool).await?;

    // A pool whose only connection is taken: a call that asked it for one
    // would wait out its deadline. The refusal comes at once.
    let busy = PgPoolOptions::new()
        .max_connections(1)
        .connect_with((*pool.connect_options()).clone())
        .await?;
    let held = busy.acquire().await?;
    let busy_store =
        PgEventStore::<StrictLog>::new(busy.clone()).with_deadline(Duration::from_secs(20));
    let refused = tokio::time::timeout(
        Duration::from_secs(5),
        Entry::post(amount(5)).run(&busy_store),
    )
    .await
    .map_err(|_| "the call asked for a connection before checking its actor")?;
    assert_missing_actor(refused, "post");
    drop(held);

    let error = Entry::post(amount(5))
        .run(&store)
        .await
        .expect_err("no actor");
    assert!(
        error.to_string().contains("call `.actor(&actor)`"),
        "the message says what to do: {error}"
    );
    assert_missing_actor(Err::<(), _>(error), "post");
    assert_eq!(counts(&pool).await?, (0, 0), "nothing written");
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn bulk_call_without_actor_is_refused(pool: PgPool) -> TestResult {
    let store = strict_actor::store(&pool).await?;
    let refused = Entry::post_many([amount(1), amount(2), amount(3)])
        .run(&store)
        .await;
    assert_missing_actor(refused, "post");
    assert_eq!(counts(&pool).await?, (0, 0), "nothing written");

    // No input, no event: nothing to name an actor for.
    assert_eq!(Entry::post_many(Vec::new()).run(&store).await?, 0);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn each_without_an_actor_on_one_call_is_refused(pool: PgPool) -> TestResult {
    let store = strict_actor::store(&pool).await?;
    let operator = Operator { id: Uuid::now_v7() };
    let calls = vec![
        Entry::post(amount(1)).actor(&operator),
        Entry::post(amount(2)),
        Entry::post(amount(3)).actor(&operator),
    ];
    assert_missing_actor(each(calls).run(&store).await, "post");
    assert_eq!(counts(&pool).await?, (0, 0), "nothing written");
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn calls_with_an_actor_run_and_ignored_actions_need_none(pool: PgPool) -> TestResult {
    let store = strict_actor::store(&pool).await?;
    let operator = Operator { id: Uuid::now_v7() };

    let id = Entry::post(amount(10)).actor(&operator).run(&store).await?;
    let posted = Entry::post_many([amount(20), amount(30)])
        .actor(&operator)
        .run(&store)
        .await?;
    assert_eq!(posted, 2);
    let calls = [amount(40), amount(50)].map(|a| Entry::post(a).actor(&operator));
    assert_eq!(each(calls).run(&store).await?.len(), 2);
    assert_eq!(counts(&pool).await?, (5, 5));

    let by_operator: i64 =
        sqlx::query_scalar("SELECT count(*) FROM strict_events WHERE operator_id = $1")
            .bind(operator.id)
            .fetch_one(&pool)
            .await?;
    assert_eq!(by_operator, 5, "every event names the operator");

    // An ignored action writes no event, so it needs no actor.
    Entry::annotate(id, "checked".to_owned())
        .run(&store)
        .await?;
    let note: Option<String> = sqlx::query_scalar("SELECT note FROM entries WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await?;
    assert_eq!(note.as_deref(), Some("checked"));
    assert_eq!(counts(&pool).await?, (5, 5));
    Ok(())
}
