//! Replay and the audit log: manual entries are never replayed (not even one
//! named like a recorded action, about a real record), and replay writes no
//! changes (the original run stored them).

use events_core::audit::{AuditQuery, EntryKind, ManualEntry};
use events_core::replay::{Replay, Selection};
use serde_json::json;
use sqlx::PgPool;

use super::fixture::{Log, Project, Rename, TestResult, project, setup};

async fn projects(pool: &PgPool) -> Result<Vec<Project>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM projects ORDER BY id")
        .fetch_all(pool)
        .await
}

async fn changes_rows(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM events_changes")
        .fetch_one(pool)
        .await
}

#[sqlx::test(migrations = false)]
async fn replay_ignores_manual_entries_and_writes_no_changes(pool: PgPool) -> TestResult {
    let (store, audit) = setup(&pool).await?;
    let a = project(&store, "Apollo").await?;
    // A manual entry that looks exactly like a recorded create of a new project,
    // with data that `Project::create` would accept: replaying it would add a row.
    audit
        .track(
            ManualEntry::<Log>::new("create")
                .resource("project", uuid::Uuid::now_v7())
                .data(json!({"name": "Ghost"})),
        )
        .await?;
    // And one about a real record, with data the body could not decode.
    audit
        .track(
            ManualEntry::<Log>::new("rename")
                .resource("project", a.id)
                .data(json!(42)),
        )
        .await?;
    Project::rename(
        a.id,
        Rename {
            name: "Artemis".into(),
        },
    )
    .run(&store)
    .await?;
    let b = project(&store, "Gemini").await?;
    Project::delete(b.id, ()).run(&store).await?;
    audit.track(ManualEntry::<Log>::new("system.note")).await?;

    let live = projects(&pool).await?;
    let changes_before = changes_rows(&pool).await?;
    let entries_before = audit.list_all(AuditQuery::new()).await?;
    assert_eq!(
        entries_before
            .iter()
            .filter(|e| e.kind == EntryKind::Manual)
            .count(),
        3
    );

    assert_eq!(
        store.verify_replayable(&Selection::All).await?.events,
        4,
        "only the 4 recorded actions are selected"
    );
    let report = store.replay(Replay::all()).await?;
    assert_eq!(report.applied, 4);
    assert_eq!(projects(&pool).await?, live, "no ghost project, same state");
    assert_eq!(
        changes_rows(&pool).await?,
        changes_before,
        "replay wrote no changes"
    );
    assert_eq!(
        audit.list_all(AuditQuery::new()).await?,
        entries_before,
        "the log, manual entries included, is untouched"
    );

    // Chunked replay and a cut at a manual entry select the same.
    let chunked = store.replay(Replay::all().in_chunks(2)).await?;
    assert_eq!(chunked.applied, 4);
    // A cut at a manual entry: every recorded action up to it, none of the
    // manual entries. Entries are newest first: the last one is `system.note`,
    // the first manual one the ghost `create`, right after Apollo's create.
    let manual: Vec<_> = entries_before
        .iter()
        .filter(|e| e.kind == EntryKind::Manual)
        .collect();
    let (last, first) = (manual[0], manual[2]);
    assert_eq!(
        (last.action.as_str(), first.action.as_str()),
        ("system.note", "create")
    );
    assert_eq!(store.replay(Replay::up_to_event(last.id)).await?.applied, 4);
    assert_eq!(projects(&pool).await?, live);
    assert_eq!(
        store.replay(Replay::up_to_event(first.id)).await?.applied,
        1
    );
    let apollo = projects(&pool).await?;
    assert_eq!(
        apollo.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["Apollo"],
        "only Apollo's create precedes the ghost entry"
    );
    Ok(())
}
