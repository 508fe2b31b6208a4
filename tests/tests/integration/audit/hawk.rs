//! HawkEx's `Audit`: `track/3`, `recent/1` (`:page`, `:per_page`, `:search`,
//! the totals map), `search/2` (`:limit`, default 5), `for_account/1`.

use events_core::Key;
use events_core::audit::{AuditQuery, Count, EntryKind, ManualEntry};
use events_postgres::audit::SEARCH_LIMIT;
use sqlx::PgPool;
use uuid::Uuid;

use super::fixture::{Log, Member, TestResult, actions, project, setup};

/// `track(current_user, "project.deleted", project)` and `track(nil, action, nil)`.
#[sqlx::test(migrations = false)]
async fn track_records_actor_action_and_resource(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let user = Member::new();
    let project_id = Uuid::now_v7();

    let tracked = audit
        .track(
            ManualEntry::<Log>::new("project.deleted")
                .actor(&user)
                .resource("project", project_id),
        )
        .await?
        .ok_or("tracked entries are returned")?;
    let system = audit
        .track(ManualEntry::<Log>::new("billing.cycle_closed"))
        .await?
        .ok_or("a system entry with no actor and no resource")?;

    let stored = audit.get(tracked.id).await?;
    assert_eq!(stored.kind, EntryKind::Manual);
    assert_eq!(stored.action, "project.deleted");
    assert_eq!(stored.resource.as_deref(), Some("project"));
    assert_eq!(stored.record_id, Some(Key::Uuid(project_id)));
    let actor = stored.actor.as_ref().ok_or("actor stored")?;
    assert_eq!(
        (actor.column.as_str(), actor.actor_type.as_str(), &actor.key),
        ("user_id", "Member", &Key::Uuid(user.0))
    );
    assert_eq!(stored.version, 1);
    assert!(stored.committed_at.is_some(), "read back after its commit");
    assert_eq!(stored.occurred_at, tracked.occurred_at);

    let system = audit.get(system.id).await?;
    assert_eq!(
        (system.actor, system.resource, system.record_id),
        (None, None, None)
    );
    Ok(())
}

/// `recent(page: 2, per_page: 2)` → `%{entries, page, per_page, total_count,
/// total_pages}`, newest first, with `:search` narrowing to matching actions.
#[sqlx::test(migrations = false)]
async fn recent_pages_newest_first_with_totals_and_search(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    for action in [
        "billing.charged",
        "project.created",
        "billing.refunded",
        "project.deleted",
        "billing.charged",
    ] {
        audit.track(ManualEntry::<Log>::new(action)).await?;
    }

    let first = audit.recent_page(1, 2, None).await?;
    assert_eq!(
        actions(&first.entries),
        ["billing.charged", "project.deleted"]
    );
    assert_eq!(
        (
            first.page,
            first.per_page,
            first.total_count(),
            first.total_pages()
        ),
        (Some(1), 2, Some(5), Some(3))
    );
    assert_eq!(first.total, Some(Count::Exact(5)));
    let third = audit.recent_page(3, 2, None).await?;
    assert_eq!(actions(&third.entries), ["billing.charged"]);
    assert!(!third.has_more());

    let billing = audit.recent_page(1, 50, Some("billing.")).await?;
    assert_eq!(
        actions(&billing.entries),
        ["billing.charged", "billing.refunded", "billing.charged"]
    );
    assert_eq!(
        (billing.total_count(), billing.total_pages()),
        (Some(3), Some(1))
    );
    let empty = audit.recent_page(1, 50, Some("nothing.")).await?;
    assert!(empty.entries.is_empty());
    assert_eq!(
        (empty.total_count(), empty.total_pages()),
        (Some(0), Some(1))
    );
    Ok(())
}

/// `search(query)` returns at most 5 distinct action names starting with the
/// term; `search(query, limit: n)` takes another limit.
#[sqlx::test(migrations = false)]
async fn search_is_typeahead_over_distinct_actions_limit_5(pool: PgPool) -> TestResult {
    let (store, audit) = setup(&pool).await?;
    for i in 0..7 {
        let action = format!("project.step_{i}");
        audit.track(ManualEntry::<Log>::new(&action)).await?;
        audit.track(ManualEntry::<Log>::new(&action)).await?;
    }
    audit
        .track(ManualEntry::<Log>::new("profile.updated"))
        .await?;
    project(&store, "Apollo").await?; // recorded action `create`

    let names = audit.search_actions("proj", SEARCH_LIMIT).await?;
    assert_eq!(
        names,
        [
            "project.step_0",
            "project.step_1",
            "project.step_2",
            "project.step_3",
            "project.step_4"
        ],
        "default limit 5, distinct, ascending"
    );
    assert_eq!(audit.search_actions("pro", 10).await?.len(), 8);
    assert_eq!(
        audit.search_actions("profile", SEARCH_LIMIT).await?,
        ["profile.updated"]
    );
    assert_eq!(audit.search_actions("cre", SEARCH_LIMIT).await?, ["create"]);
    assert!(audit.search_actions("zzz", SEARCH_LIMIT).await?.is_empty());
    assert_eq!(
        audit.search_actions("", SEARCH_LIMIT).await?.len(),
        5,
        "an empty term lists the first names"
    );
    Ok(())
}

/// `for_account(account_id)` returns every entry whose resource id is the
/// account's, under any resource, newest first.
#[sqlx::test(migrations = false)]
async fn for_account_returns_all_entries_of_a_resource_id(pool: PgPool) -> TestResult {
    let (store, audit) = setup(&pool).await?;
    let account = project(&store, "Account A").await?;
    let other = project(&store, "Account B").await?;
    audit
        .track(ManualEntry::<Log>::new("billing.charged").resource("billing.account", account.id))
        .await?;
    audit
        .track(ManualEntry::<Log>::new("billing.charged").resource("billing.account", other.id))
        .await?;
    audit
        .track(ManualEntry::<Log>::new("account.suspended").resource("account", account.id))
        .await?;

    let entries = audit.for_resource_id(account.id).await?;
    assert_eq!(
        actions(&entries),
        ["account.suspended", "billing.charged", "create"]
    );
    assert!(
        entries
            .iter()
            .all(|e| e.record_id == Some(Key::Uuid(account.id)))
    );
    // The id may come as text, e.g. from a URL.
    let by_text = audit
        .list_all(AuditQuery::new().record_id(account.id.to_string().to_uppercase()))
        .await?;
    assert_eq!(by_text, entries);
    Ok(())
}
