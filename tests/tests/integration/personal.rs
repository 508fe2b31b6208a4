//! Personal data (guarantee 11): a field declared personal never reaches the
//! database in plaintext; erasing its subject makes it unreadable in every
//! reader. Manual entries, the audit readers, erasure, export, the master key.

use events_core::audit::{AuditQuery, Changes, ManualEntry};
use events_core::personal::{
    DataKey, EnvKeyProvider, PersonalData, SubjectSource, Treatment, is_erased, is_sealed,
};
use events_core::{Error, PersonalError};
use events_postgres::PgEventStore;
use events_tests::app::{self, EventLog};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A contact of a user: the email and phone are encrypted for the user, the
/// password never stored. Declared with the derive, as an application would.
#[derive(Serialize, PersonalData)]
#[personal(subject = user_id)]
struct Contact {
    user_id: Uuid,
    #[personal(encrypted, erased = String::new())]
    email: String,
    #[personal(encrypted)]
    phone: Option<String>,
    #[personal(redacted, erased = String::new())]
    password: String,
}

/// A note about a record, encrypted for the record it is about.
#[derive(Serialize, PersonalData)]
#[personal(subject = record_id)]
struct Note {
    #[personal(encrypted)]
    text: Option<String>,
    #[serde(rename = "by")]
    author: String,
}

fn contact(user_id: Uuid, name: &str) -> Contact {
    Contact {
        user_id,
        email: format!("{name}@mail.example"),
        phone: Some(format!("+1-555-{name}")),
        password: format!("hunter2-{name}"),
    }
}

/// A provider with one fresh master key `id`.
fn provider(id: &str) -> Result<(EnvKeyProvider, DataKey), PersonalError> {
    let key = DataKey::generate()?;
    Ok((EnvKeyProvider::new(id, key.clone()), key))
}

async fn keyed_store(pool: &PgPool) -> Result<PgEventStore<EventLog>, Box<dyn std::error::Error>> {
    let (provider, _) = provider("k1")?;
    Ok(app::store(pool).await?.with_key_provider(provider))
}

/// `entry` for `contact`, with the changes of a new email.
fn entry(c: &Contact, old_email: &str) -> Result<ManualEntry<EventLog>, Error> {
    let changes = Changes::updated(
        &json!({"email": old_email, "password": "old-secret", "name": "x"}),
        &json!({"email": c.email, "password": c.password, "name": "x"}),
    )?;
    ManualEntry::new("contact.changed")
        .personal_data(c)
        .map(|e| e.changes(changes))
}

/// Every `(table, column)` of the log's tables whose text contains `needle`:
/// every column of every table named after the log (`events`, `events_*`),
/// compared with `LIKE` on its text.
pub(crate) async fn plaintext_anywhere(
    pool: &PgPool,
    needle: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND (table_name = 'events' OR table_name LIKE 'events\\_%') \
         ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await?;
    assert!(columns.len() > 20, "the log's tables: {columns:?}");
    let mut found = Vec::new();
    for (table, column) in columns {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM \"{table}\" WHERE \"{column}\"::text LIKE '%' || $1 || '%'"
        )))
        .bind(needle)
        .fetch_one(pool)
        .await?;
        if n > 0 {
            found.push((table, column));
        }
    }
    Ok(found)
}

/// What an attacker with the database (the owner, who can bypass the
/// append-only guard) but not the master key can do: move the first event's
/// encrypted `email` into the last event.
pub(crate) async fn move_first_email_into_last(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(
        "ALTER TABLE events DISABLE TRIGGER events_append_only_row;
         UPDATE events SET data = jsonb_set(data, '{email}', (SELECT data -> 'email' FROM events ORDER BY id LIMIT 1))
         WHERE id = (SELECT max(id) FROM events);
         ALTER TABLE events ENABLE TRIGGER events_append_only_row;",
    )
    .execute(pool)
    .await
    .map(drop)
}

#[sqlx::test(migrations = false)]
async fn manual_entries_store_no_plaintext_and_read_back_decrypted(pool: PgPool) -> TestResult {
    let store = keyed_store(&pool).await?;
    let audit = store.audit();
    let ada = Uuid::now_v7();
    let c = contact(ada, "ada");
    let tracked = audit
        .track(entry(&c, "old-ada@mail.example")?)
        .await?
        .ok_or("tracked")?;
    // What the writer gets back is what readers see.
    assert_eq!(tracked.data["email"], json!("ada@mail.example"));
    assert_eq!(tracked.data["password"], Value::Null);

    for secret in [
        "ada@mail.example",
        "old-ada@mail.example",
        "+1-555-ada",
        "hunter2-ada",
        "old-secret",
    ] {
        assert_eq!(plaintext_anywhere(&pool, secret).await?, vec![], "{secret}");
    }
    let raw: Value = sqlx::query_scalar("SELECT data FROM events WHERE id = $1")
        .bind(match tracked.id {
            events_core::EventId::Integer(i) => i,
            other => return Err(format!("integer ids: {other}").into()),
        })
        .fetch_one(&pool)
        .await?;
    assert!(
        is_sealed(&raw["email"]) && is_sealed(&raw["phone"]),
        "{raw}"
    );

    for read in [
        audit.get(tracked.id).await?,
        audit.query(&AuditQuery::new()).await?.entries.remove(0),
    ] {
        assert_eq!(read.data, tracked.data);
        assert_eq!(read.data["phone"], json!("+1-555-ada"));
        let changes = read.changes.ok_or("changes")?;
        assert_eq!(
            changes.old_values.ok_or("old")?["email"],
            json!("old-ada@mail.example")
        );
        let diff = changes.diff_values.ok_or("diff")?;
        assert_eq!(diff["email"], json!("ada@mail.example"));
        assert_eq!(diff["password"], Value::Null);
    }
    Ok(())
}

#[test]
fn the_derive_declares_the_schema_of_the_type() {
    let schema = Contact::SCHEMA;
    assert_eq!(schema.type_name, "Contact");
    assert_eq!(schema.subject, Some(SubjectSource::Field("user_id")));
    let fields: Vec<_> = schema
        .fields
        .iter()
        .map(|f| (f.name, f.treatment, schema.placeholder(f)))
        .collect();
    assert_eq!(
        fields,
        [
            ("email", Treatment::Encrypted, json!("")),
            ("phone", Treatment::Encrypted, Value::Null),
            ("password", Treatment::Redacted, json!("")),
        ]
    );
    assert_eq!(Note::SCHEMA.subject, Some(SubjectSource::RecordId));
}

#[sqlx::test(migrations = false)]
async fn a_derived_record_id_subject_seals_and_erases_by_record(pool: PgPool) -> TestResult {
    let store = keyed_store(&pool).await?;
    let audit = store.audit();
    let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
    let note = |text: &str| Note {
        text: Some(text.to_owned()),
        author: "ops".to_owned(),
    };
    let tracked = audit
        .track(
            ManualEntry::new("note.added")
                .resource("note", first)
                .personal_data(&note("first secret note"))?,
        )
        .await?
        .ok_or("tracked")?;
    audit
        .track(
            ManualEntry::new("note.added")
                .resource("note", second)
                .personal_data(&note("second secret note"))?,
        )
        .await?;
    assert_eq!(tracked.data["text"], json!("first secret note"));
    assert_eq!(tracked.data["by"], json!("ops"));
    assert_eq!(plaintext_anywhere(&pool, "secret note").await?, vec![]);

    assert!(audit.erase_subject(first).await?.erased);
    let page = audit.query(&AuditQuery::new().action("note.added")).await?;
    let texts: Vec<&Value> = page.entries.iter().map(|e| &e.data["text"]).collect();
    assert_eq!(texts.len(), 2);
    assert!(texts.iter().any(|t| is_erased(t)), "{texts:?}");
    assert!(texts.contains(&&json!("second secret note")), "{texts:?}");
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn erasure_makes_a_subject_unreadable_and_leaves_others(pool: PgPool) -> TestResult {
    let (p, key) = provider("k1")?;
    let store = app::store(&pool).await?.with_key_provider(p);
    let audit = store.audit();
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    audit.track(entry(&contact(ada, "ada"), "a0@x")?).await?;
    audit.track(entry(&contact(bob, "bob"), "b0@x")?).await?;

    let erasure = audit.erase_subject(ada).await?;
    assert!(erasure.erased);
    assert!(!audit.erase_subject(ada).await?.erased, "erased once");
    let recorded = audit.get(erasure.entry).await?;
    assert_eq!(recorded.action, "personal.erased");
    assert_eq!(recorded.target.ok_or("target")?.id, ada.to_string());

    // A second store (another process) sees the same.
    let other = PgEventStore::<EventLog>::new(pool.clone())
        .with_key_provider(EnvKeyProvider::new("k1", key));
    for audit in [audit.clone(), other.audit()] {
        let page = audit
            .query(&AuditQuery::new().action("contact.changed"))
            .await?;
        let by_user = |u: Uuid| {
            page.entries
                .iter()
                .find(|e| e.data["user_id"] == json!(u))
                .cloned()
                .ok_or("entry")
        };
        let (a, b) = (by_user(ada)?, by_user(bob)?);
        assert!(
            is_erased(&a.data["email"]) && is_erased(&a.data["phone"]),
            "{}",
            a.data
        );
        let diff = a.changes.ok_or("changes")?.diff_values.ok_or("diff")?;
        assert!(is_erased(&diff["email"]));
        assert_eq!(b.data["email"], json!("bob@mail.example"));
    }

    let export = audit.export_subject(ada).await?;
    assert!(export.erased);
    assert_eq!(export.entries.len(), 3, "the entry and both erasures");
    let export = audit.export_subject(bob).await?;
    assert!(!export.erased);
    assert_eq!(export.entries.len(), 1);
    assert_eq!(export.entries[0].data["phone"], json!("+1-555-bob"));
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn a_ciphertext_copied_into_another_entry_does_not_decrypt(pool: PgPool) -> TestResult {
    let store = keyed_store(&pool).await?;
    let audit = store.audit();
    let ada = Uuid::now_v7();
    let first = audit
        .track(entry(&contact(ada, "ada"), "a@x")?)
        .await?
        .ok_or("first")?;
    let second = audit
        .track(entry(&contact(ada, "ada2"), "b@x")?)
        .await?
        .ok_or("second")?;
    // An attacker with the database but not the master key moves the first
    // email into the second entry.
    move_first_email_into_last(&pool).await?;
    assert_eq!(
        audit.get(first.id).await?.data["email"],
        json!("ada@mail.example")
    );
    let err = audit.get(second.id).await.expect_err("a moved ciphertext");
    assert!(
        matches!(&err, Error::Personal(PersonalError::Tampered { location, .. }) if location == "data.email"),
        "{err}"
    );
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn a_wrong_or_missing_master_key_is_an_error_never_garbage(pool: PgPool) -> TestResult {
    let store = keyed_store(&pool).await?;
    let ada = Uuid::now_v7();
    let tracked = store
        .audit()
        .track(entry(&contact(ada, "ada"), "a@x")?)
        .await?
        .ok_or("tracked")?;
    assert_eq!(store.check_master_key().await?, 1);

    // Same id, another key: a typed error at start-up and at the first read.
    let (wrong, _) = provider("k1")?;
    let wrong = PgEventStore::<EventLog>::new(pool.clone()).with_key_provider(wrong);
    for err in [
        wrong.check_master_key().await.expect_err("wrong key"),
        wrong.audit().get(tracked.id).await.expect_err("wrong key"),
    ] {
        assert!(
            matches!(&err, Error::Personal(PersonalError::WrongMasterKey { id, .. }) if id == "k1"),
            "{err}"
        );
    }
    let (unknown, _) = provider("k9")?;
    let unknown = PgEventStore::<EventLog>::new(pool.clone()).with_key_provider(unknown);
    let err = unknown.check_master_key().await.expect_err("unknown id");
    assert!(
        matches!(err, Error::Personal(PersonalError::UnknownMasterKey { .. })),
        "{err}"
    );

    // No provider: readers see the sealed values, writers are refused.
    let keyless = PgEventStore::<EventLog>::new(pool.clone());
    let sealed = keyless.audit().get(tracked.id).await?;
    assert!(is_sealed(&sealed.data["email"]), "{}", sealed.data);
    let err = keyless
        .audit()
        .track(entry(&contact(ada, "ada"), "a@x")?)
        .await
        .expect_err("no provider");
    assert!(
        matches!(err, Error::Personal(PersonalError::NoKeyProvider { .. })),
        "{err}"
    );
    let err = EnvKeyProvider::from_env("EVENTS_TEST_NO_SUCH_KEY").expect_err("unset");
    assert!(err.to_string().contains("EVENTS_TEST_NO_SUCH_KEY"), "{err}");
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn rotation_rewraps_keys_without_touching_events(pool: PgPool) -> TestResult {
    let (k1, key1) = provider("k1")?;
    let store = app::store(&pool).await?.with_key_provider(k1);
    let ada = Uuid::now_v7();
    let tracked = store
        .audit()
        .track(entry(&contact(ada, "ada"), "a@x")?)
        .await?
        .ok_or("t")?;
    let before: Vec<Value> = sqlx::query_scalar("SELECT data FROM events ORDER BY id")
        .fetch_all(&pool)
        .await?;

    let key2 = DataKey::generate()?;
    let rotating = PgEventStore::<EventLog>::new(pool.clone())
        .with_key_provider(EnvKeyProvider::new("k2", key2.clone()).with_old_key("k1", key1));
    // It caches ada's key as wrapped with k1, then rotates.
    rotating.audit().get(tracked.id).await?;
    let rotation = rotating.rotate_master_key().await?;
    assert_eq!((rotation.rewrapped, rotation.current), (1, 0));
    assert_eq!(rotating.rotate_master_key().await?.current, 1, "idempotent");
    // The events are as they were; the rotation recorded itself, without key material.
    let after: Vec<Value> = sqlx::query_scalar(
        "SELECT data FROM events WHERE action <> 'personal.keys_rewrapped' ORDER BY id",
    )
    .fetch_all(&pool)
    .await?;
    assert_eq!(before, after);
    let recorded: Vec<Value> = sqlx::query_scalar(
        "SELECT metadata FROM events WHERE action = 'personal.keys_rewrapped' AND action_type = 'manual'",
    )
    .fetch_all(&pool)
    .await?;
    assert_eq!(
        recorded.len(),
        1,
        "one rotation that re-wrapped keys: {recorded:?}"
    );
    assert_eq!(recorded[0]["rewrapped"], 1);
    assert_eq!(recorded[0]["master_key_ids"], serde_json::json!(["k2"]));

    let only_k2 = PgEventStore::<EventLog>::new(pool.clone())
        .with_key_provider(EnvKeyProvider::new("k2", key2));
    assert_eq!(
        only_k2.audit().get(tracked.id).await?.data["email"],
        json!("ada@mail.example")
    );
    // A store that cached the key before still writes readable entries; one
    // without the new master key is told so.
    rotating
        .audit()
        .track(entry(&contact(ada, "ada"), "b@x")?)
        .await?;
    assert_eq!(only_k2.audit().export_subject(ada).await?.entries.len(), 2);
    let before = before.len();
    let err = store
        .audit()
        .track(entry(&contact(ada, "ada"), "c@x")?)
        .await
        .expect_err("k1 only");
    assert!(
        matches!(err, Error::Personal(PersonalError::UnknownMasterKey { .. })),
        "{err}"
    );
    let now: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await?;
    // Only `b@x` and the rotation's own entry were added.
    assert_eq!(now, i64::try_from(before)? + 2);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn a_key_erased_by_another_process_is_never_written_with(pool: PgPool) -> TestResult {
    let (p, key) = provider("k1")?;
    let writer = app::store(&pool).await?.with_key_provider(p);
    let other = PgEventStore::<EventLog>::new(pool.clone())
        .with_key_provider(EnvKeyProvider::new("k1", key));
    let ada = Uuid::now_v7();
    let first = writer
        .audit()
        .track(entry(&contact(ada, "ada"), "a@x")?)
        .await?
        .ok_or("1")?;
    // Another process erases ada while `writer` has her key cached.
    other.audit().erase_subject(ada).await?;
    let second = writer
        .audit()
        .track(entry(&contact(ada, "ada"), "b@x")?)
        .await?
        .ok_or("2")?;
    for store in [&writer, &other] {
        assert!(is_erased(&store.audit().get(first.id).await?.data["email"]));
        assert_eq!(
            store.audit().get(second.id).await?.data["email"],
            json!("ada@mail.example")
        );
    }
    Ok(())
}
