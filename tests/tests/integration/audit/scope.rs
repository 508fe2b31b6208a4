//! Scoped audit logs (`AuditLog::scoped`): a viewer's constraints hold in every
//! reader (pages, counts, keyset cursors, single entries, histories, facets,
//! typeahead, followers), hidden fields are absent from whatever is returned,
//! and a scope only ever narrows.

use events_core::audit::{AuditQuery, Changes, CountMode, ManualEntry, Scope};
use events_postgres::subscribe::StartAt;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::fixture::{Log, NewProject, Project, Rename, TestResult, actions, setup};

/// Two tenants' worth of entries: actions on projects and manual entries,
/// with an email in data, metadata and recorded changes.
async fn two_tenants(
    store: &events_postgres::PgEventStore<Log>,
) -> Result<(Uuid, Uuid), Box<dyn std::error::Error>> {
    let audit = store.audit();
    let mut ids = Vec::new();
    // Tenants are integers: the default lock key generator locks per tenant.
    for (tenant, label, name) in [(1_i64, "acme", "Apollo"), (2, "globex", "Gemini")] {
        let p = Project::create(NewProject { name: name.into() })
            .tenant(tenant)
            .run(store)
            .await?;
        Project::rename(
            p.id,
            Rename {
                name: format!("{name} 2"),
            },
        )
        .tenant(tenant)
        .run(store)
        .await?;
        for i in 0..5 {
            audit
                .track(
                    ManualEntry::<Log>::new(format!("post.{label}_{i}"))
                        .tenant(tenant)
                        .resource("post", Uuid::now_v7())
                        .data(
                            json!({"title": "t", "email": format!("{label}{i}@example.com"),
                                     "address": {"street": "1 Secret Rd", "city": "Paris"}}),
                        )
                        .metadata(json!({"ip_address": "10.0.0.9", "mode": "manual"}))
                        .changes(Changes::updated(
                            &json!({"email": "old@example.com", "name": "A"}),
                            &json!({"email": "new@example.com", "name": "B"}),
                        )?),
                )
                .await?;
        }
        ids.push(p.id);
    }
    audit
        .track(ManualEntry::<Log>::new("system.started").data(json!(["email", 1])))
        .await?;
    Ok((ids[0], ids[1]))
}

/// Reads `follower` until it has returned `n` entries, then once more to
/// show nothing else follows. Another test's open transaction can hold the
/// commit watermark back (it is cluster-wide), hence the wait.
async fn follow_until(
    follower: &mut events_postgres::audit::EntryFollower<Log>,
    n: usize,
) -> Result<Vec<events_core::audit::AuditEntry>, Box<dyn std::error::Error>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut got = Vec::new();
    while got.len() < n {
        if std::time::Instant::now() > deadline {
            return Err(format!("followed {} of {n} entries within 20 s", got.len()).into());
        }
        got.extend(follower.next_batch(100).await?);
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        follower.next_batch(100).await?.is_empty(),
        "nothing beyond the {n} entries"
    );
    assert_eq!(got.len(), n);
    Ok(got)
}

#[sqlx::test(migrations = false)]
async fn a_tenant_scope_holds_in_every_reader(pool: PgPool) -> TestResult {
    let (store, audit) = setup(&pool).await?;
    let (acme_project, globex_project) = two_tenants(&store).await?;
    let acme = audit.scoped(Scope::everything().only_tenants([1_i64]));
    let is_acme = |e: &events_core::audit::AuditEntry| e.tenant.as_deref() == Some("1");

    // Pages and their totals, in every count mode.
    let page = acme
        .query(&AuditQuery::new().page(1, 100).count_mode(CountMode::Exact))
        .await?;
    assert_eq!(page.entries.len(), 7);
    assert!(page.entries.iter().all(is_acme));
    assert_eq!(page.total_count(), Some(7));
    let capped = acme
        .count(&AuditQuery::new().count_mode(CountMode::Capped(3)))
        .await?;
    assert_eq!(capped, events_core::audit::Count::AtLeast(3));
    let unscoped = audit.count(&AuditQuery::new()).await?.value();
    assert_eq!(unscoped, 15);

    // Keyset paging, page by page, never crosses over.
    let mut cursor = None;
    let mut seen = Vec::new();
    loop {
        let page = acme
            .query(&AuditQuery::new().after(cursor).limit(2))
            .await?;
        seen.extend(page.entries);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    assert!(seen.iter().all(is_acme));

    // A cursor taken from an unscoped page of the other tenant leads nowhere else.
    let everything = audit.list_all(AuditQuery::new()).await?;
    let globex_entry = everything
        .iter()
        .find(|e| e.tenant.as_deref() == Some("2"))
        .ok_or("a globex entry")?;
    let from_globex = acme
        .list(
            &AuditQuery::new()
                .after(globex_entry.cursor(Default::default()))
                .limit(100),
        )
        .await?;
    assert!(from_globex.iter().all(is_acme));

    // Asking for the other tenant gives nothing, not an error.
    assert!(
        acme.list(&AuditQuery::new().tenant(2_i64).limit(100))
            .await?
            .is_empty()
    );

    // Single entries and histories.
    assert!(acme.find(globex_entry.id).await?.is_none());
    assert!(acme.get(globex_entry.id).await.is_err());
    assert!(acme.history("project", globex_project).await?.is_empty());
    assert_eq!(acme.history("project", acme_project).await?.len(), 2);

    // Facets and typeahead list only what the scope allows.
    let actions_seen = acme.distinct_actions().await?;
    assert!(
        actions_seen.iter().all(|a| !a.contains("globex")),
        "{actions_seen:?}"
    );
    assert!(actions_seen.iter().any(|a| a.contains("acme")));
    assert!(!actions_seen.contains(&"system.started".to_owned()));
    assert!(acme.search_actions("post.globex", 10).await?.is_empty());
    assert_eq!(acme.search_actions("post.", 10).await?.len(), 5);
    assert_eq!(
        acme.distinct_resources().await?,
        ["post".to_owned(), "project".to_owned()]
    );

    // A follower from the beginning, and one started now that sees new entries.
    let mut follower = acme.follow(&AuditQuery::new(), StartAt::Beginning).await?;
    let followed = follow_until(&mut follower, 7).await?;
    assert!(followed.iter().all(is_acme));
    let mut live = acme.follow(&AuditQuery::new(), StartAt::Now).await?;
    for tenant in [2_i64, 1] {
        audit
            .track(ManualEntry::<Log>::new("later").tenant(tenant))
            .await?;
    }
    let later = follow_until(&mut live, 1).await?;
    assert!(later.iter().all(is_acme));
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn action_and_resource_scopes_combine(pool: PgPool) -> TestResult {
    let (store, audit) = setup(&pool).await?;
    two_tenants(&store).await?;
    let posts = audit.scoped(Scope::everything().only_actions(["post.*"]));
    let all = posts.list_all(AuditQuery::new()).await?;
    assert_eq!(all.len(), 10);
    assert!(all.iter().all(|e| e.action.starts_with("post.")));

    let exact = audit.scoped(Scope::everything().only_actions(["create", "system.started"]));
    let mut names = actions(&exact.list_all(AuditQuery::new()).await?)
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    names.sort();
    assert_eq!(names, ["create", "create", "system.started"]);

    let projects = audit.scoped(Scope::everything().only_resources(["project"]));
    assert_eq!(projects.count(&AuditQuery::new()).await?.value(), 4);
    assert_eq!(projects.distinct_resources().await?, ["project"]);

    // Both at once: nothing is both a post and a project.
    let both = projects.scoped(Scope::everything().only_actions(["post.*"]));
    assert_eq!(both.count(&AuditQuery::new()).await?.value(), 0);
    assert!(both.distinct_actions().await?.is_empty());

    // An empty list allows nothing; narrowing again never widens.
    let nobody = audit.scoped(Scope::everything().only_tenants(Vec::<String>::new()));
    assert_eq!(nobody.count(&AuditQuery::new()).await?.value(), 0);
    let still_acme = audit
        .scoped(Scope::everything().only_tenants([1_i64]))
        .scoped(Scope::everything());
    assert_eq!(still_acme.count(&AuditQuery::new()).await?.value(), 7);
    let neither = audit
        .scoped(Scope::everything().only_tenants([1_i64]))
        .scoped(Scope::everything().only_tenants([2_i64]));
    assert_eq!(neither.count(&AuditQuery::new()).await?.value(), 0);
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn hidden_fields_are_absent_from_everything_returned(pool: PgPool) -> TestResult {
    let (store, audit) = setup(&pool).await?;
    two_tenants(&store).await?;
    let support = audit.scoped(
        Scope::everything()
            .hide_fields(["email", "address.street"])
            .hide_metadata_fields(["ip_address", "mode"]),
    );
    let mut returned = support.list_all(AuditQuery::new()).await?;
    let first = returned.first().ok_or("entries")?.id;
    returned.push(support.get(first).await?);
    let mut follower = support
        .follow(&AuditQuery::new(), StartAt::Beginning)
        .await?;
    returned.extend(follow_until(&mut follower, 15).await?);
    assert_eq!(returned.len(), 15 + 1 + 15);
    let text = serde_json::to_string(&returned)?;
    for secret in [
        "@example.com",
        "Secret Rd",
        "10.0.0.9",
        "\"mode\":\"manual\"",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    // What is not hidden is intact, and values that are not objects pass as they are.
    let post = returned
        .iter()
        .find(|e| e.action == "post.acme_0")
        .ok_or("post entry")?;
    assert_eq!(
        post.data,
        json!({"title": "t", "address": {"city": "Paris"}})
    );
    let changes = post.changes.as_ref().ok_or("changes")?;
    assert_eq!(
        changes.old_values.as_ref().map(|o| o.contains_key("name")),
        Some(true)
    );
    let started = returned
        .iter()
        .find(|e| e.action == "system.started")
        .ok_or("array data")?;
    assert_eq!(started.data, json!(["email", 1]));

    // A hidden metadata key can be neither filtered on nor listed.
    let refused = support
        .list(&AuditQuery::new().mode("manual").limit(10))
        .await;
    assert!(
        matches!(refused, Err(events_core::Error::Audit(events_core::AuditError::InvalidFilter { ref field, .. })) if field == "mode"),
        "{refused:?}"
    );
    let by_metadata = support
        .count(&AuditQuery::new().metadata_contains(json!({"ip_address": "10.0.0.9"})))
        .await;
    assert!(by_metadata.is_err());
    assert!(support.distinct_modes().await?.is_empty());
    assert_eq!(audit.distinct_modes().await?, ["manual"]);
    Ok(())
}
