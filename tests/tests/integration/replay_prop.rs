//! Property: for random sequences of actions over two resources (including legacy
//! version-1 creates routed through a `replay_override`, nested actions, bulk calls
//! and actions that fail), replaying the log rebuilds exactly the live state; replaying up to
//! the last event of any step, or up to its time, rebuilds the state live execution
//! had after that step.
//!
//! Each case runs in its own database, created and dropped around it.

use std::sync::OnceLock;

use events_core::EventId;
use events_core::replay::Replay;
use events_postgres::PgEventStore;
use events_tests::app::{
    self, CreateUser, CreateUserV1, EventLog, Post, PublishPost, Signup, UpdateUser, User,
};
use events_tests::legacy::{OldLog, OldUser};
use events_tests::{Snapshot, database_url, snapshot};
use proptest::prelude::*;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use uuid::Uuid;

/// One step of a generated history.
#[derive(Debug, Clone)]
enum Op {
    /// `User::create` (version 2).
    Create(u8),
    /// The legacy build's `User.create` (version 1, replayed through the override).
    CreateOld(u8),
    /// `User::update` of the n-th live user.
    Rename(u8, u8),
    /// `User::destroy` of the n-th live user.
    Destroy(u8),
    /// `Post::publish` by the n-th live user.
    Publish(u8, u8),
    /// `Post::retract` of the n-th live post.
    Retract(u8),
    /// `User::signup`, publishing a first post as a nested action (that fails when
    /// the flag is false and is tolerated).
    Signup(u8, bool),
    /// A create whose body fails: no state change, no event.
    FailingCreate,
    /// `User::create_many` of 0 to 3 users: one event each, replayed through `create`.
    BulkCreate(u8, u8),
    /// `User::rename_many` of picked live users (a user may be picked twice).
    BulkRename(Vec<(u8, u8)>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => any::<u8>().prop_map(Op::Create),
        2 => any::<u8>().prop_map(Op::CreateOld),
        3 => (any::<u8>(), any::<u8>()).prop_map(|(u, n)| Op::Rename(u, n)),
        1 => any::<u8>().prop_map(Op::Destroy),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(u, t)| Op::Publish(u, t)),
        1 => any::<u8>().prop_map(Op::Retract),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(n, ok)| Op::Signup(n, ok)),
        1 => Just(Op::FailingCreate),
        2 => (0u8..4, any::<u8>()).prop_map(|(k, n)| Op::BulkCreate(k, n)),
        2 => proptest::collection::vec((any::<u8>(), any::<u8>()), 0..4).prop_map(Op::BulkRename),
    ]
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("tokio runtime: {e}"))
    })
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A fresh database for one case, dropped by [`drop_database`].
async fn fresh_database() -> Result<(PgPool, String), BoxError> {
    let admin: PgConnectOptions = database_url().parse()?;
    let name = format!("events_prop_{}", Uuid::now_v7().simple());
    let mut conn = admin.connect().await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    let pool = PgPoolOptions::new()
        .max_connections(3)
        .connect_with(admin.database(&name))
        .await?;
    Ok((pool, name))
}

async fn drop_database(pool: PgPool, name: &str) -> Result<(), BoxError> {
    pool.close().await;
    let admin: PgConnectOptions = database_url().parse()?;
    let mut conn = admin.connect().await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// The last event in replay order, if any.
async fn last_event(
    pool: &PgPool,
) -> Result<Option<(EventId, chrono::DateTime<chrono::Utc>)>, BoxError> {
    let row: Option<(i64, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT id, occurred_at FROM events ORDER BY txid DESC, id DESC LIMIT 1")
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(id, at)| (EventId::Integer(id), at)))
}

fn pick<T: Copy>(items: &[T], n: u8) -> Option<T> {
    (!items.is_empty()).then(|| items[usize::from(n) % items.len()])
}

/// Runs `ops` live; returns, for each step that wrote events, the last event, its
/// time and the state after it.
async fn run_live(
    pool: &PgPool,
    ops: &[Op],
) -> Result<Vec<(EventId, chrono::DateTime<chrono::Utc>, Snapshot)>, BoxError> {
    let store = PgEventStore::<EventLog>::new(pool.clone());
    let old_store = PgEventStore::<OldLog>::new(pool.clone());
    let mut users: Vec<Uuid> = Vec::new();
    let mut posts: Vec<Uuid> = Vec::new();
    let mut steps = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let before = last_event(pool).await?;
        match op {
            Op::Create(n) => {
                let name = format!("user {n} {i}");
                let email = format!("u{n}.{i}@example.com");
                users.push(
                    User::create(CreateUser { name, email })
                        .run(&store)
                        .await?
                        .id,
                );
            }
            Op::CreateOld(n) => {
                users.push(
                    OldUser::create(CreateUserV1 {
                        full_name: format!("Old User {n} {i}"),
                    })
                    .run(&old_store)
                    .await?,
                );
            }
            Op::Rename(u, n) => {
                if let Some(id) = pick(&users, *u) {
                    User::update(
                        id,
                        UpdateUser {
                            name: format!("renamed {n} {i}"),
                        },
                    )
                    .run(&store)
                    .await?;
                }
            }
            Op::Destroy(u) => {
                if let Some(id) = pick(&users, *u) {
                    User::destroy(id, ()).run(&store).await?;
                    users.retain(|x| *x != id);
                }
            }
            Op::Publish(u, t) => {
                if let Some(author_id) = pick(&users, *u) {
                    let title = format!("post {t} {i}");
                    posts.push(
                        Post::publish(PublishPost { author_id, title })
                            .run(&store)
                            .await?
                            .id,
                    );
                }
            }
            Op::Retract(p) => {
                if let Some(id) = pick(&posts, *p) {
                    Post::retract(id, ()).run(&store).await?;
                    posts.retain(|x| *x != id);
                }
            }
            Op::Signup(n, post_ok) => {
                let first_post = if *post_ok {
                    format!("hello {n} {i}")
                } else {
                    String::new()
                };
                let input = Signup {
                    name: format!("signup {n} {i}"),
                    email: format!("s{n}.{i}@example.com"),
                    first_post,
                    tolerate_failed_post: true,
                };
                users.push(User::signup(input).run(&store).await?.id);
                // Its nested post, if it committed, is the newest post.
                let newest: Option<(Uuid,)> =
                    sqlx::query_as("SELECT id FROM posts ORDER BY id DESC LIMIT 1")
                        .fetch_optional(pool)
                        .await?;
                if let Some((id,)) = newest.filter(|(id,)| !posts.contains(id)) {
                    posts.push(id);
                }
            }
            Op::BulkCreate(k, n) => {
                let inputs = (0..*k).map(|j| CreateUser {
                    name: format!("bulk {n} {i}.{j}"),
                    email: format!("b{n}.{i}.{j}@example.com"),
                });
                let created = User::create_many(inputs).run(&store).await?;
                users.extend(created.iter().map(|u| u.id));
            }
            Op::BulkRename(picks) => {
                let renames: Vec<(Uuid, UpdateUser)> = picks
                    .iter()
                    .enumerate()
                    .filter_map(|(j, (u, n))| {
                        pick(&users, *u).map(|id| {
                            let name = format!("bulk renamed {n} {i}.{j}");
                            (id, UpdateUser { name })
                        })
                    })
                    .collect();
                User::rename_many(renames).run(&store).await?;
            }
            Op::FailingCreate => {
                let failed = User::create(CreateUser {
                    name: String::new(),
                    email: "x".into(),
                })
                .run(&store)
                .await;
                assert!(failed.is_err(), "an empty name fails");
            }
        }
        let after = last_event(pool).await?;
        if let Some((id, at)) = after.filter(|a| Some(a) != before.as_ref()) {
            steps.push((id, at, snapshot(pool).await?));
        }
    }
    Ok(steps)
}

async fn check(ops: Vec<Op>) -> Result<(), BoxError> {
    let (pool, name) = fresh_database().await?;
    let result = async {
        let store = PgEventStore::<EventLog>::new(pool.clone());
        store.migrate().await?;
        app::create_tables(&mut *pool.acquire().await?).await?;

        let steps = run_live(&pool, &ops).await?;
        let live = snapshot(&pool).await?;

        store.replay(Replay::all().batch_size(7)).await?;
        assert_eq!(
            snapshot(&pool).await?,
            live,
            "replay of all events rebuilds the live state"
        );

        for (id, at, expected) in &steps {
            store.replay(Replay::up_to_event(*id)).await?;
            assert_eq!(&snapshot(&pool).await?, expected, "replay up to event {id}");
            store.replay(Replay::up_to_time(*at)).await?;
            assert_eq!(&snapshot(&pool).await?, expected, "replay up to {at}");
        }
        Ok::<_, BoxError>(())
    }
    .await;
    drop_database(pool, &name).await?;
    result
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, max_shrink_iters: 64, ..ProptestConfig::default() })]

    #[test]
    fn replay_rebuilds_every_live_state(ops in proptest::collection::vec(op(), 1..18)) {
        let outcome = runtime().block_on(check(ops));
        prop_assert!(outcome.is_ok(), "{}", outcome.err().map(|e| e.to_string()).unwrap_or_default());
    }
}
