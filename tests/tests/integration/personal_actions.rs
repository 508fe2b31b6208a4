//! Personal data of recorded actions (guarantee 11): an action's input fields
//! declared personal are encrypted (or redacted) in its event, whether it runs
//! alone, in bulk or under `each(..)`, and in the changes its body records;
//! every reader decrypts them; after erasure, replay rebuilds the rows with
//! the declared placeholder, and the preflight counts those events.

use events_core::audit::AuditQuery;
use events_core::personal::{DataKey, EnvKeyProvider, PersonalData, is_erased, is_sealed};
use events_core::replay::{Replay, Selection};
use events_core::{ActionCtx, BulkCtx, Error, EventId, PersonalError, each, events};
use events_postgres::PgEventStore;
use events_tests::app::{self, EventLog};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::personal::{move_first_email_into_last, plaintext_anywhere};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A member's signup: the member (the record) is the data subject; the email
/// is encrypted, the password never stored, the plan is not personal.
#[derive(Debug, Clone, Serialize, Deserialize, PersonalData)]
#[personal(subject = record_id)]
pub struct Signup {
    name: String,
    #[personal(encrypted, erased = String::from("[erased]"))]
    email: String,
    #[personal(redacted)]
    password: Option<String>,
}

/// A new email for a member, encrypted for the member.
#[derive(Debug, Clone, Serialize, Deserialize, PersonalData)]
#[personal(subject = record_id)]
pub struct NewEmail {
    #[personal(encrypted, erased = String::from("[erased]"))]
    email: String,
}

/// A page a user visited: personal data of the user named in the input.
#[derive(Debug, Clone, Serialize, Deserialize, PersonalData)]
#[personal(subject = user_id)]
pub struct Visit {
    user_id: Uuid,
    #[personal(encrypted)]
    page: Option<String>,
}

/// Members, kept in the application's `users` table (which the log's replay
/// clears and rebuilds).
pub struct Member;

#[events(event_log = EventLog)]
impl Member {
    /// Signs a member up.
    #[create]
    pub async fn signup(ctx: &mut ActionCtx<'_>, input: Signup) -> Result<(), Error> {
        // The body gets the plaintext, live and on replay.
        assert!(!input.email.contains("$pd"), "{input:?}");
        sqlx::query("INSERT INTO users (id, name, email, created_at) VALUES ($1, $2, $3, $4)")
            .bind(ctx.record_id())
            .bind(&input.name)
            .bind(&input.email)
            .bind(ctx.now())
            .execute(ctx.conn())
            .await?;
        Ok(())
    }

    /// Signs many members up in one statement.
    #[bulk(signup)]
    pub async fn signup_many(ctx: &mut BulkCtx<'_>, inputs: Vec<Signup>) -> Result<(), Error> {
        let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        let emails: Vec<&str> = inputs.iter().map(|i| i.email.as_str()).collect();
        sqlx::query(
            "INSERT INTO users (id, name, email, created_at) \
             SELECT u.id, u.name, u.email, $4 FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(id, name, email)",
        )
        .bind(ctx.record_ids())
        .bind(&names)
        .bind(&emails)
        .bind(ctx.now())
        .execute(ctx.conn())
        .await?;
        Ok(())
    }

    /// Records a visit; changes no state.
    #[update]
    pub async fn visit(_ctx: &mut ActionCtx<'_>, input: Visit) -> Result<(), Error> {
        assert!(input.page.is_none_or(|p| p.starts_with("/private/")));
        Ok(())
    }

    /// Changes a member's email, recording the change.
    #[update]
    pub async fn change_email(ctx: &mut ActionCtx<'_>, input: NewEmail) -> Result<(), Error> {
        let old: String = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
            .bind(ctx.record_id())
            .fetch_one(ctx.conn())
            .await?;
        sqlx::query("UPDATE users SET email = $2 WHERE id = $1")
            .bind(ctx.record_id())
            .bind(&input.email)
            .execute(ctx.conn())
            .await?;
        ctx.record_updated(&json!({"email": old}), &json!({"email": input.email}))
            .await?;
        Ok(())
    }
}

fn signup(name: &str) -> Signup {
    Signup {
        name: name.to_owned(),
        email: format!("{name}@private.example"),
        password: Some(format!("pw-{name}-secret")),
    }
}

/// Runs `Member::change_email` on `member`.
async fn change_email(
    store: &PgEventStore<EventLog>,
    member: Uuid,
    email: &str,
) -> Result<(), Error> {
    let input = NewEmail {
        email: email.to_owned(),
    };
    Member::change_email(member, input).run(store).await
}

fn provider() -> Result<(EnvKeyProvider, DataKey), PersonalError> {
    let key = DataKey::generate()?;
    Ok((EnvKeyProvider::new("k1", key.clone()), key))
}

async fn keyed(
    pool: &PgPool,
) -> Result<(PgEventStore<EventLog>, DataKey), Box<dyn std::error::Error>> {
    let (p, key) = provider()?;
    Ok((app::store(pool).await?.with_key_provider(p), key))
}

/// Every member's `(id, name, email)`, by name.
async fn members(pool: &PgPool) -> Result<Vec<(Uuid, String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, email FROM users ORDER BY name")
        .fetch_all(pool)
        .await
}

fn int(id: EventId) -> i64 {
    match id {
        EventId::Integer(i) => i,
        EventId::Uuid(_) => panic!("the test log has integer ids"),
    }
}

#[sqlx::test(migrations = false)]
async fn actions_bulk_each_and_changes_store_no_plaintext(pool: PgPool) -> TestResult {
    let (store, _) = keyed(&pool).await?;
    Member::signup(signup("ada")).run(&store).await?;
    Member::signup_many([signup("bob"), signup("cyd")])
        .run(&store)
        .await?;
    each([signup("dee"), signup("eve")].map(Member::signup))
        .run(&store)
        .await?;
    let (ada, ..) = members(&pool).await?[0].clone();
    change_email(&store, ada, "ada-new@private.example").await?;

    let mut secrets = vec!["ada-new@private.example".to_owned()];
    for name in ["ada", "bob", "cyd", "dee", "eve"] {
        secrets.push(format!("{name}@private.example"));
        secrets.push(format!("pw-{name}-secret"));
    }
    for secret in &secrets {
        assert_eq!(plaintext_anywhere(&pool, secret).await?, vec![], "{secret}");
    }
    // As stored: envelopes, and the redacted password as null.
    let raw: Vec<Value> = sqlx::query_scalar("SELECT data FROM events ORDER BY id")
        .fetch_all(&pool)
        .await?;
    assert_eq!(raw.len(), 6);
    for data in &raw {
        assert!(is_sealed(&data["email"]), "{data}");
    }
    assert!(raw[..5].iter().all(|d| d["password"].is_null()));
    let raw_changes: Value = sqlx::query_scalar("SELECT diff_values FROM events_changes")
        .fetch_one(&pool)
        .await?;
    assert!(is_sealed(&raw_changes["email"]), "{raw_changes}");

    // Every reader decrypts: the event readers, the audit log, the follower.
    let listed = store.list_events(None, 100).await?;
    let emails: Vec<&Value> = listed.iter().map(|e| &e.data["email"]).collect();
    assert_eq!(
        emails,
        [
            "ada@private.example",
            "bob@private.example",
            "cyd@private.example",
            "dee@private.example",
            "eve@private.example",
            "ada-new@private.example",
        ]
        .map(Value::from)
        .iter()
        .collect::<Vec<_>>()
    );
    assert!(listed.iter().all(|e| e.data.get("$pd").is_none()));
    let history = store.events_for_record("Member", ada).await?;
    assert_eq!(history[1].data["email"], json!("ada-new@private.example"));
    // Commit-safe reading waits while other databases' transactions hold the
    // snapshot's horizon back.
    let started = std::time::Instant::now();
    let committed = loop {
        let page = store.read_committed(None, 100).await?.events;
        if page.len() >= 6 || started.elapsed() > std::time::Duration::from_secs(30) {
            break page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(committed.len(), 6);
    assert_eq!(committed[2].data["email"], json!("cyd@private.example"));
    let page = store
        .audit()
        .query(&AuditQuery::new().resource("Member").action("change_email"))
        .await?;
    let changes = page.entries[0].changes.as_ref().ok_or("changes")?;
    assert_eq!(
        changes.old_values.as_ref().ok_or("old")?["email"],
        json!("ada@private.example")
    );
    assert_eq!(
        changes.diff_values.as_ref().ok_or("diff")?["email"],
        json!("ada-new@private.example")
    );

    // The subject's export holds ada's two events, decrypted, and nobody else's.
    let export = store.audit().export_subject(ada).await?;
    assert!(!export.erased);
    let exported: Vec<(&str, &Value)> = export
        .entries
        .iter()
        .map(|e| (e.action.as_str(), &e.data["email"]))
        .collect();
    assert_eq!(
        exported,
        vec![
            ("signup", &json!("ada@private.example")),
            ("change_email", &json!("ada-new@private.example")),
        ]
    );
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn after_erasure_replay_rebuilds_rows_with_the_placeholder(pool: PgPool) -> TestResult {
    let (store, _) = keyed(&pool).await?;
    Member::signup(signup("ada")).run(&store).await?;
    Member::signup(signup("bob")).run(&store).await?;
    let (ada, ..) = members(&pool).await?[0].clone();
    change_email(&store, ada, "ada-new@private.example").await?;
    let before = store.verify_replayable(&Selection::All).await?;
    assert_eq!((before.events, before.with_erased_fields), (3, 0));

    store.audit().erase_subject(ada).await?;

    // Every reader: ada's values are erased, bob's untouched.
    let listed = store.list_events(None, 100).await?;
    assert!(is_erased(&listed[0].data["email"]), "{}", listed[0].data);
    assert_eq!(listed[1].data["email"], json!("bob@private.example"));
    assert!(is_erased(&listed[2].data["email"]));
    let page = store
        .audit()
        .query(&AuditQuery::new().resource("Member"))
        .await?;
    for entry in &page.entries {
        let text = serde_json::to_string(&entry.data)? + &serde_json::to_string(&entry.changes)?;
        assert!(
            !text.contains("ada@private") && !text.contains("ada-new@"),
            "{text}"
        );
    }

    // The preflight counts ada's two events; replay hands their bodies the
    // placeholder and rebuilds every row.
    let found = store.verify_replayable(&Selection::All).await?;
    assert_eq!((found.events, found.with_erased_fields), (3, 2));
    store.replay(Replay::all()).await?;
    let rebuilt = members(&pool).await?;
    assert_eq!(
        rebuilt,
        vec![
            (ada, "ada".to_owned(), "[erased]".to_owned()),
            (
                rebuilt[1].0,
                "bob".to_owned(),
                "bob@private.example".to_owned()
            ),
        ]
    );
    // New data of the same subject gets a new key; the old events stay erased.
    change_email(&store, ada, "ada-3@private.example").await?;
    let listed = store.list_events(None, 100).await?;
    assert!(is_erased(&listed[0].data["email"]));
    assert_eq!(listed[3].data["email"], json!("ada-3@private.example"));
    let found = store.verify_replayable(&Selection::All).await?;
    assert_eq!((found.events, found.with_erased_fields), (4, 2));
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn a_ciphertext_moved_to_another_event_does_not_decrypt(pool: PgPool) -> TestResult {
    let (store, _) = keyed(&pool).await?;
    Member::signup(signup("ada")).run(&store).await?;
    Member::signup(signup("bob")).run(&store).await?;
    // With the database but not the master key, ada's email moved into bob's
    // event.
    move_first_email_into_last(&pool).await?;
    let err = store.list_events(None, 10).await.expect_err("moved");
    assert!(
        matches!(&err, Error::Personal(PersonalError::Tampered { location, .. }) if location == "data.email"),
        "{err}"
    );
    let err = store.replay(Replay::all()).await.expect_err("moved");
    assert!(
        matches!(err, Error::Personal(PersonalError::Tampered { .. })),
        "{err}"
    );
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn without_the_right_master_key_actions_and_replay_fail_clearly(pool: PgPool) -> TestResult {
    let plain = app::store(&pool).await?;
    // No provider: nothing is written.
    let err = Member::signup(signup("ada"))
        .run(&plain)
        .await
        .expect_err("no provider");
    assert!(
        matches!(err, Error::Personal(PersonalError::NoKeyProvider { .. })),
        "{err}"
    );
    assert!(members(&pool).await?.is_empty());
    assert!(plain.list_events(None, 10).await?.is_empty());

    let (p, _) = provider()?;
    let store = plain.clone().with_key_provider(p);
    Member::signup(signup("ada")).run(&store).await?;
    // Without a provider, readers see the envelopes, replay refuses.
    assert!(is_sealed(
        &plain.list_events(None, 10).await?[0].data["email"]
    ));
    let err = plain.replay(Replay::all()).await.expect_err("no provider");
    assert!(
        matches!(err, Error::Personal(PersonalError::NoKeyProvider { .. })),
        "{err}"
    );
    // Another master key under the same id: an error, never garbage.
    let (wrong, _) = provider()?;
    let wrong = PgEventStore::<EventLog>::new(pool.clone()).with_key_provider(wrong);
    let err = wrong.list_events(None, 10).await.expect_err("wrong key");
    assert!(
        matches!(err, Error::Personal(PersonalError::WrongMasterKey { .. })),
        "{err}"
    );
    let err = wrong.replay(Replay::all()).await.expect_err("wrong key");
    assert!(
        matches!(err, Error::Personal(PersonalError::WrongMasterKey { .. })),
        "{err}"
    );
    // The state is as it was.
    assert_eq!(members(&pool).await?.len(), 1);
    assert!(int(store.list_events(None, 1).await?[0].id) > 0);
    Ok(())
}

/// The application role of the generated grants runs personal actions (its
/// append stores and holds keys through the owner's `<table>_use_keys`),
/// erases a subject and replays, and still cannot touch the keys table.
#[sqlx::test(migrations = false)]
async fn the_application_role_protects_erases_and_replays(pool: PgPool) -> TestResult {
    use std::str::FromStr as _;
    let (key_provider, key) = provider()?;
    let owner = app::store(&pool).await?.with_key_provider(key_provider);
    let app_role = format!("ev_pd_{}", &Uuid::new_v4().simple().to_string()[..12]);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE ROLE {app_role} LOGIN; GRANT ALL ON users, posts, audit_side_effects TO {app_role}; {}",
        events_postgres::schema::grants_sql::<EventLog>(&app_role, &app_role)
    )))
    .execute(&pool)
    .await?;
    let result = async {
        let db: String = sqlx::query_scalar("SELECT current_database()")
            .fetch_one(&pool)
            .await?;
        let options = sqlx::postgres::PgConnectOptions::from_str(&events_tests::database_url())?
            .database(&db)
            .username(&app_role);
        let app_pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        let app = PgEventStore::<EventLog>::new(app_pool.clone())
            .with_key_provider(EnvKeyProvider::new("k1", key));
        Member::signup(signup("ada")).run(&app).await?;
        Member::signup_many([signup("bob")]).run(&app).await?;
        let (ada, ..) = members(&pool).await?[0].clone();
        change_email(&app, ada, "ada-new@private.example").await?;
        for secret in [
            "ada@private.example",
            "ada-new@private.example",
            "bob@private.example",
        ] {
            assert_eq!(plaintext_anywhere(&pool, secret).await?, vec![], "{secret}");
        }
        app.audit().erase_subject(ada).await?;
        assert_eq!(
            app.verify_replayable(&Selection::All)
                .await?
                .with_erased_fields,
            2
        );
        app.replay(Replay::all()).await?;
        let emails: Vec<String> = members(&pool).await?.into_iter().map(|m| m.2).collect();
        assert_eq!(emails, ["[erased]", "bob@private.example"]);
        let denied = sqlx::query("DELETE FROM events_subject_keys")
            .execute(&app_pool)
            .await
            .expect_err("the application role cannot delete keys");
        assert_eq!(
            denied.as_database_error().and_then(|d| d.code()).as_deref(),
            Some("42501")
        );
        // The owner reads what the application wrote, with the same master key.
        assert_eq!(
            owner.list_events(None, 10).await?[1].data["email"],
            json!("bob@private.example")
        );
        app_pool.close().await;
        Ok::<_, Box<dyn std::error::Error>>(())
    }
    .await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP OWNED BY {app_role}; DROP ROLE {app_role}"
    )))
    .execute(&pool)
    .await?;
    result
}

/// Processes that each create the first key of the same new subject at once:
/// one key is stored, every other append finds its own key refused, reloads
/// the stored one and writes with it; every event decrypts.
#[sqlx::test(migrations = false)]
async fn concurrent_first_writes_of_a_subject_agree_on_one_key(pool: PgPool) -> TestResult {
    let (first, key) = provider()?;
    let stores: Vec<PgEventStore<EventLog>> =
        std::iter::once(app::store(&pool).await?.with_key_provider(first))
            .chain((1..6).map(|_| {
                PgEventStore::<EventLog>::new(pool.clone())
                    .with_key_provider(EnvKeyProvider::new("k1", key.clone()))
            }))
            .collect();
    let user = Uuid::now_v7();
    let member = Uuid::now_v7();
    let visits = stores.iter().enumerate().map(|(i, store)| {
        Member::visit(
            member,
            Visit {
                user_id: user,
                page: Some(format!("/private/{i}")),
            },
        )
        .run(store)
    });
    for result in futures_util::future::join_all(visits).await {
        result?;
    }
    let keys: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events_subject_keys WHERE subject = $1")
            .bind(user.to_string())
            .fetch_one(&pool)
            .await?;
    assert_eq!(keys, 1);
    let mut pages: Vec<String> = stores[3]
        .list_events(None, 10)
        .await?
        .iter()
        .map(|e| {
            e.data["page"]
                .as_str()
                .map(str::to_owned)
                .ok_or("decrypted")
        })
        .collect::<Result<_, _>>()?;
    pages.sort();
    assert_eq!(
        pages,
        (0..6).map(|i| format!("/private/{i}")).collect::<Vec<_>>()
    );
    Ok(())
}
