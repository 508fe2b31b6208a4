//! The event table and its side tables are append-only for everyone, the table
//! owner (the superuser running the tests) included: every way of rewriting or
//! removing rows is refused with SQLSTATE EV001, which `Error::from_sqlx`
//! classifies as `Error::AppendOnly`, and nothing changes.

use events_core::{APPEND_ONLY_SQLSTATE, Error};
use sqlx::PgPool;

use crate::fixture::{Job, TestResult, input, label, setup, stored, within};

/// A digest of every row of `table`.
async fn digest(pool: &PgPool, table: &str) -> Result<(i64, Option<String>), sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t"
    )))
    .fetch_one(pool)
    .await
}

#[sqlx::test(migrations = false)]
async fn the_owner_cannot_rewrite_or_remove_events_changes_or_commits(pool: PgPool) -> TestResult {
    let store = setup(&pool).await?;
    let owner: bool = sqlx::query_scalar(
        "SELECT pg_get_userbyid(relowner) = current_user FROM pg_class WHERE relname = 'fault_log'",
    )
    .fetch_one(&pool)
    .await?;
    assert!(owner, "the tests run as the table owner");
    let job = within("create", Job::create(input(&label("a-"))).run(&store)).await??;
    within(
        "relabel",
        Job::relabel(job.id, input(&label("b-"))).run(&store),
    )
    .await??;
    store
        .audit()
        .track(events_core::audit::ManualEntry::new("note.added"))
        .await?;

    let tables = ["fault_log", "fault_log_changes", "fault_log_commits"];
    let mut before = Vec::new();
    for table in tables {
        let d = digest(&pool, table).await?;
        assert!(d.0 > 0, "{table} has rows to protect");
        before.push(d);
    }
    let statements = [
        "UPDATE fault_log SET action = 'forged'",
        "UPDATE fault_log SET data = '{}' WHERE id = (SELECT max(id) FROM fault_log)",
        "DELETE FROM fault_log",
        "DELETE FROM fault_log WHERE action_type = 'manual'",
        "TRUNCATE fault_log",
        "TRUNCATE fault_log CASCADE",
        "TRUNCATE jobs, fault_log",
        "WITH gone AS (DELETE FROM fault_log RETURNING id) SELECT count(*) FROM gone",
        "INSERT INTO fault_log (id, resource, record_id, action, action_type, data, metadata, version, txid, occurred_at) \
         OVERRIDING SYSTEM VALUE SELECT id, resource, record_id, action, action_type, data, metadata, version, txid, occurred_at \
         FROM fault_log WHERE action_type <> 'manual' LIMIT 1 \
         ON CONFLICT (id) DO UPDATE SET action = 'forged'",
        "MERGE INTO fault_log e USING (SELECT 1) s ON true WHEN MATCHED THEN DELETE",
        "MERGE INTO fault_log e USING (SELECT 1) s ON true WHEN MATCHED THEN UPDATE SET action = 'forged'",
        "UPDATE fault_log_changes SET new_values = '{}'",
        "DELETE FROM fault_log_changes",
        "TRUNCATE fault_log_changes",
        "MERGE INTO fault_log_changes c USING (SELECT 1) s ON true WHEN MATCHED THEN DELETE",
        "UPDATE fault_log_commits SET committed_at = committed_at - interval '1 day'",
        "DELETE FROM fault_log_commits",
        "TRUNCATE fault_log_commits",
        "TRUNCATE fault_log_changes, fault_log_commits",
        "INSERT INTO fault_log_commits (txid, committed_at) SELECT txid, now() FROM fault_log_commits LIMIT 1 \
         ON CONFLICT (txid) DO UPDATE SET committed_at = excluded.committed_at",
    ];
    for sql in statements {
        let err = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .expect_err(sql);
        let code = err
            .as_database_error()
            .and_then(|db| db.code())
            .map(|c| c.into_owned());
        assert_eq!(code.as_deref(), Some(APPEND_ONLY_SQLSTATE), "{sql}: {err}");
        let err = Error::from_sqlx("tampering", err);
        assert!(err.is_append_only(), "{sql}: {err}");
        assert!(
            matches!(&err, Error::AppendOnly { message, .. } if !message.is_empty()),
            "{sql}: {err}"
        );
    }
    // In one transaction too: the refusal aborts it, nothing of it stays.
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM jobs").execute(&mut *tx).await?;
    let err = sqlx::query("DELETE FROM fault_log")
        .execute(&mut *tx)
        .await
        .expect_err("append-only");
    assert!(Error::from_sqlx("tampering", err).is_append_only());
    drop(tx);

    for (table, d) in tables.iter().zip(&before) {
        assert_eq!(&digest(&pool, table).await?, d, "{table} unchanged");
    }
    assert_eq!(stored(&pool).await?.jobs.len(), 1, "jobs kept");
    Ok(())
}
