//! PhoenixKit's `AuditLog`: `create_log_entry/1`, `log_password_change/1`,
//! `get_log!/1`, `list_logs/1` (`:limit` default 100, `:offset`, `:action`,
//! `:target_user_uuid`, `:admin_user_uuid`, `:from_date`, `:to_date`),
//! `list_logs_by_action/1`, `list_logs_for_user/1`, `count_logs/1`.

use events_core::audit::{AuditQuery, ManualEntry};
use events_core::{Error, EventId, Key};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::fixture::{Log, Member, TestResult, actions, setup};

fn admin_action(action: &str, admin: &Member, target: Uuid) -> ManualEntry<Log> {
    ManualEntry::admin_action(action, admin, target)
}

/// `create_log_entry(%{target_user_uuid:, admin_user_uuid:, action:,
/// ip_address:, user_agent:, metadata:})`.
#[sqlx::test(migrations = false)]
async fn create_log_entry_stores_admin_target_and_request(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let admin = Member::new();
    let target = Uuid::now_v7();
    let entry = audit
        .track(
            admin_action("user_created", &admin, target)
                .ip_address("192.168.1.1".parse()?)
                .user_agent("Mozilla/5.0 (X11; Linux x86_64)")
                .metadata(json!({"invited": true})),
        )
        .await?
        .ok_or("tracked")?;
    let stored = audit.get(entry.id).await?;
    assert_eq!(stored.action, "user_created");
    assert_eq!(stored.actor.map(|a| a.key), Some(Key::Uuid(admin.0)));
    let target_ref = stored.target.ok_or("target")?;
    assert_eq!(
        (target_ref.kind.as_deref(), target_ref.id),
        (Some("user"), target.to_string())
    );
    assert_eq!(stored.ip_address.as_deref(), Some("192.168.1.1"));
    assert_eq!(
        stored.user_agent.as_deref(),
        Some("Mozilla/5.0 (X11; Linux x86_64)")
    );
    assert_eq!(stored.metadata["invited"], true);

    // An IPv6 address, and a user agent beyond the limit is cut, not refused.
    let long = audit
        .track(
            admin_action("user_created", &admin, target)
                .ip_address("2001:db8::1".parse()?)
                .user_agent("é".repeat(2000)),
        )
        .await?
        .ok_or("tracked")?;
    let long = audit.get(long.id).await?;
    assert_eq!(long.ip_address.as_deref(), Some("2001:db8::1"));
    let ua = long.user_agent.ok_or("user agent")?;
    assert!(ua.len() <= events_core::audit::MAX_USER_AGENT_LEN && ua.starts_with("éé"));
    Ok(())
}

/// `log_password_change(attrs)`: action defaults to `admin_password_reset`.
#[sqlx::test(migrations = false)]
async fn log_password_change_defaults_its_action(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let admin = Member::new();
    let user = Uuid::now_v7();
    let reset = audit
        .track(ManualEntry::<Log>::password_change(&admin, user).ip_address("10.0.0.7".parse()?))
        .await?
        .ok_or("tracked")?;
    let own = audit
        .track(ManualEntry::<Log>::password_change(&admin, user).action("user_password_change"))
        .await?
        .ok_or("tracked")?;
    assert_eq!(audit.get(reset.id).await?.action, "admin_password_reset");
    assert_eq!(audit.get(own.id).await?.action, "user_password_change");
    assert_eq!(
        audit.get(reset.id).await?.ip_address.as_deref(),
        Some("10.0.0.7")
    );
    assert_eq!(
        audit.get(reset.id).await?.target.map(|t| t.id),
        Some(user.to_string())
    );
    Ok(())
}

/// `get_log!(id)`: raises `Ecto.NoResultsError` when missing; here the typed
/// `EntryNotFound`.
#[sqlx::test(migrations = false)]
async fn get_log_bang_finds_or_fails_typed(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let admin = Member::new();
    let entry = audit
        .track(admin_action("user_deleted", &admin, Uuid::now_v7()))
        .await?
        .ok_or("tracked")?;
    assert_eq!(audit.get(entry.id).await?.id, entry.id);
    let missing = match entry.id {
        EventId::Integer(i) => EventId::Integer(i + 1000),
        other => other,
    };
    match audit.get(missing).await {
        Err(Error::Audit(events_core::AuditError::EntryNotFound { id })) => assert_eq!(id, missing),
        other => return Err(format!("expected EntryNotFound, got {other:?}").into()),
    }
    Ok(())
}

/// `list_logs(limit:, offset:, action:, target_user_uuid:, admin_user_uuid:,
/// from_date:, to_date:)`.
#[sqlx::test(migrations = false)]
async fn list_logs_filters_with_offset_and_limit(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let (root, helper) = (Member::new(), Member::new());
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let mut at = Vec::new();
    for (action, admin, target) in [
        ("admin_password_reset", &root, ada),
        ("user_locked", &helper, bob),
        ("admin_password_reset", &helper, ada),
        ("admin_password_reset", &root, bob),
        ("user_unlocked", &root, bob),
    ] {
        let e = audit
            .track(admin_action(action, admin, target))
            .await?
            .ok_or("tracked")?;
        at.push(e.occurred_at);
    }
    // Default limit 100 (PhoenixKit), offset 0.
    let all = audit.list(&AuditQuery::new().offset(0).limit(100)).await?;
    assert_eq!(all.len(), 5);
    let window = audit.list(&AuditQuery::new().offset(1).limit(2)).await?;
    assert_eq!(
        actions(&window),
        ["admin_password_reset", "admin_password_reset"]
    );
    assert_eq!(window, all[1..3]);

    let resets = AuditQuery::new().action("admin_password_reset");
    assert_eq!(audit.list(&resets.clone().limit(50)).await?.len(), 3);
    let to_ada = audit.list(&resets.clone().target(ada)).await?;
    assert_eq!(to_ada.len(), 2);
    let by_root = audit.list(&resets.clone().actor(&root)).await?;
    assert_eq!(
        by_root.iter().map(|e| e.occurred_at).collect::<Vec<_>>(),
        [at[3], at[0]]
    );
    let dated = audit
        .list(&AuditQuery::new().since(at[1]).until(at[4]))
        .await?;
    assert_eq!(
        actions(&dated),
        [
            "admin_password_reset",
            "admin_password_reset",
            "user_locked"
        ]
    );
    let page = audit.query(&AuditQuery::new().offset(4).limit(2)).await?;
    assert_eq!(
        (page.page, page.entries.len(), page.has_more()),
        (Some(3), 1, false)
    );
    Ok(())
}

/// `list_logs_by_action(:admin_password_reset)`.
#[sqlx::test(migrations = false)]
async fn list_logs_by_action_lists_every_match(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let admin = Member::new();
    for i in 0..3 {
        audit
            .track(
                admin_action("admin_password_reset", &admin, Uuid::now_v7())
                    .metadata(json!({"i": i})),
            )
            .await?;
        audit
            .track(admin_action("user_locked", &admin, Uuid::now_v7()))
            .await?;
    }
    let resets = audit.by_action("admin_password_reset").await?;
    let order: Vec<i64> = resets
        .iter()
        .filter_map(|e| e.metadata["i"].as_i64())
        .collect();
    assert_eq!(order, [2, 1, 0], "newest first");
    assert!(
        audit.by_action("admin_password").await?.is_empty(),
        "exact, not prefix"
    );
    Ok(())
}

/// `list_logs_for_user(id)`: entries where the user is the target or the admin.
#[sqlx::test(migrations = false)]
async fn list_logs_for_user_matches_actor_or_target(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let (ada, bob) = (Member::new(), Member::new());
    audit
        .track(admin_action("user_locked", &ada, bob.0))
        .await?; // ada acts on bob
    audit
        .track(admin_action("user_locked", &bob, ada.0))
        .await?; // bob acts on ada
    audit
        .track(ManualEntry::<Log>::new("post.created").actor(&bob))
        .await?;
    audit
        .track(ManualEntry::<Log>::new("profile.viewed").target("user", ada.0))
        .await?;
    audit.track(ManualEntry::<Log>::new("unrelated")).await?;

    let for_ada = audit.for_user(ada.0).await?;
    assert_eq!(
        actions(&for_ada),
        ["profile.viewed", "user_locked", "user_locked"]
    );
    let as_actor = for_ada
        .iter()
        .filter(|e| e.actor.as_ref().is_some_and(|a| a.key == Key::Uuid(ada.0)))
        .count();
    assert_eq!(as_actor, 1);
    assert_eq!(audit.for_user(bob.0).await?.len(), 3);
    assert_eq!(
        audit.for_user(bob.0.to_string()).await?.len(),
        3,
        "by text too"
    );
    Ok(())
}

/// `count_logs(opts)`: the options of `list_logs` but `:limit` and `:offset`.
#[sqlx::test(migrations = false)]
async fn count_logs_ignores_limit_and_offset(pool: PgPool) -> TestResult {
    let (_, audit) = setup(&pool).await?;
    let admin = Member::new();
    for _ in 0..42 {
        audit
            .track(admin_action("admin_password_reset", &admin, Uuid::now_v7()))
            .await?;
    }
    audit
        .track(admin_action("user_locked", &admin, Uuid::now_v7()))
        .await?;
    let q = AuditQuery::new().action("admin_password_reset");
    assert_eq!(audit.count(&q).await?.value(), 42);
    assert_eq!(
        audit.count(&q.clone().offset(40).limit(5)).await?.value(),
        42
    );
    assert!(audit.count(&q).await?.is_exact());
    Ok(())
}
