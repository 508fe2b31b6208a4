//! Viewers restricted by the policy's scope: to a tenant, to action prefixes,
//! to resources, and with hidden fields. Every route answers within the
//! scope: pages, counts, facets, typeahead, single entries, histories, cursors
//! an admin obtained, explicit filters naming what is outside it.

use serde_json::json;
use sqlx::PgPool;

use super::fixture::{
    ALICE_EMAIL, META_SECRET, NOTE_EMAIL, Server, TestResult, enc, seed, set, store,
};

/// A viewer restricted to tenant acme never sees globex's entries, however
/// it asks.
#[sqlx::test(migrations = false)]
async fn a_tenant_viewer_sees_only_its_tenant(pool: PgPool) -> TestResult {
    let store = store(&pool).await?;
    let s = seed(&store).await?;
    let server = Server::api(&store).await?;
    let acme = set(&[
        "create@acme",
        "rename@acme",
        "post.created@acme",
        "post.updated@acme",
        "post.touched@acme",
    ]);
    let viewer = "tenant=acme";

    assert_eq!(server.labels(viewer, "").await?, acme);
    // Asking for the other tenant is an empty answer, not an error.
    assert_eq!(server.labels(viewer, "tenant=globex").await?, set(&[]));
    assert_eq!(server.labels(viewer, "actor=service:cron").await?, set(&[]));
    assert_eq!(
        server
            .labels(viewer, &format!("record_id={}", s.note_globex))
            .await?,
        set(&[])
    );

    // Counts.
    let counted = server
        .json(viewer, "/api/entries?page=1&per_page=2&count=exact")
        .await?;
    assert_eq!(
        (
            counted["total"]["value"].as_u64(),
            counted["total_pages"].as_u64()
        ),
        (Some(5), Some(3))
    );
    let capped = server.json(viewer, "/api/entries?page=1").await?;
    assert_eq!(capped["total"]["value"], 5);
    let other = server
        .json(viewer, "/api/entries?page=1&count=exact&tenant=globex")
        .await?;
    assert_eq!(other["total"]["value"], 0);

    // Cursors an admin obtained lead only to acme entries.
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let cursor = after
            .as_deref()
            .map(|c| format!("&after={}", enc(c)))
            .unwrap_or_default();
        let admin = server
            .json(
                "all",
                &format!("/api/entries?order=occurred_asc&limit=2{cursor}"),
            )
            .await?;
        let Some(next) = admin["next_cursor"].as_str() else {
            break;
        };
        let seen = server
            .json(
                viewer,
                &format!(
                    "/api/entries?order=occurred_asc&limit=100&after={}",
                    enc(next)
                ),
            )
            .await?;
        assert!(
            super::fixture::labels(&seen["entries"]).is_subset(&acme),
            "{seen}"
        );
        after = Some(next.to_owned());
    }

    // Facets and typeahead.
    let facets = server.json(viewer, "/api/facets").await?;
    assert_eq!(
        facets["actions"],
        json!([
            "create",
            "post.created",
            "post.touched",
            "post.updated",
            "rename"
        ])
    );
    assert_eq!(facets["resources"], json!(["note", "post"]));
    assert_eq!(facets["kinds"], json!(["create", "manual", "update"]));
    assert_eq!(facets["modes"], json!(["auto"]));
    assert_eq!(facets["modules"], json!(["blog"]));
    let actors = facets["actors"].to_string();
    assert!(actors.contains(&s.alice.0.to_string()), "{actors}");
    assert!(
        !actors.contains(&s.bob.0.to_string()) && !actors.contains("cron"),
        "{actors}"
    );
    let names = server.json(viewer, "/api/actions?q=&limit=100").await?;
    assert_eq!(names["actions"], facets["actions"]);
    assert_eq!(
        server.json(viewer, "/api/actions?q=u").await?["actions"],
        json!([])
    );
    assert_eq!(
        server.json(viewer, "/api/actions?q=d").await?["actions"],
        json!([])
    );

    // Single entries of the other tenant: the same 404 as a missing one.
    let globex = server
        .json("all", "/api/entries?tenant=globex&limit=100")
        .await?;
    for entry in globex["entries"].as_array().into_iter().flatten() {
        let id = entry["id"].as_i64().ok_or("id")?;
        assert_eq!(
            server
                .error(viewer, &format!("/api/entries/{id}"), 404)
                .await?,
            None
        );
    }
    let mine = server.json(viewer, "/api/entries?limit=1").await?;
    let id = mine["entries"][0]["id"].as_i64().ok_or("id")?;
    server.json(viewer, &format!("/api/entries/{id}")).await?;

    // Histories.
    for path in [
        format!("/api/records/note/{}/history", s.note_globex),
        format!("/api/records/user/{}/history", s.login_user),
    ] {
        assert_eq!(
            server.json(viewer, &path).await?["entries"],
            json!([]),
            "{path}"
        );
        assert_ne!(
            server.json("all", &path).await?["entries"],
            json!([]),
            "{path}"
        );
    }
    let own = server
        .json(
            viewer,
            &format!("/api/records/note/{}/history", s.note_acme),
        )
        .await?;
    assert_eq!(own["entries"].as_array().map(Vec::len), Some(2));

    // No scope at all: nothing.
    assert_eq!(server.labels("tenant=", "").await?, set(&[]));
    Ok(())
}

/// A viewer restricted to action prefixes, and one restricted to resources.
#[sqlx::test(migrations = false)]
async fn action_and_resource_viewers_see_only_theirs(pool: PgPool) -> TestResult {
    let store = store(&pool).await?;
    let s = seed(&store).await?;
    let server = Server::api(&store).await?;

    let posts = "actions=post.*,user.login";
    let expected = set(&[
        "post.created@acme",
        "post.updated@acme",
        "post.touched@acme",
        "user.login@globex",
    ]);
    assert_eq!(server.labels(posts, "").await?, expected);
    assert_eq!(server.labels(posts, "action=billing.*").await?, set(&[]));
    assert_eq!(server.labels(posts, "kind=create").await?, set(&[]));
    assert_eq!(
        server
            .json(posts, "/api/entries?page=1&count=exact")
            .await?["total"]["value"],
        4
    );
    let facets = server.json(posts, "/api/facets").await?;
    assert_eq!(
        facets["actions"],
        json!(["post.created", "post.touched", "post.updated", "user.login"])
    );
    assert_eq!(facets["resources"], json!(["post", "user"]));
    assert_eq!(
        server.json(posts, "/api/actions?q=&limit=100").await?["actions"],
        facets["actions"]
    );
    assert_eq!(
        server
            .json(posts, &format!("/api/records/note/{}/history", s.note_acme))
            .await?["entries"],
        json!([])
    );
    assert_eq!(
        server
            .json(posts, &format!("/api/records/post/{}/history", s.post))
            .await?["entries"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let booted = server
        .json("all", "/api/entries?action=system.booted")
        .await?;
    let id = booted["entries"][0]["id"].as_i64().ok_or("id")?;
    server
        .error(posts, &format!("/api/entries/{id}"), 404)
        .await?;

    let notes = "resources=note,invoice";
    let expected = set(&[
        "create@acme",
        "rename@acme",
        "create@globex",
        "delete@globex",
        "billing.charged@globex",
    ]);
    assert_eq!(server.labels(notes, "").await?, expected);
    assert_eq!(server.labels(notes, "resource=post").await?, set(&[]));
    assert_eq!(
        server
            .json(notes, "/api/entries?page=1&count=exact")
            .await?["total"]["value"],
        5
    );
    let facets = server.json(notes, "/api/facets").await?;
    assert_eq!(facets["resources"], json!(["invoice", "note"]));
    assert_eq!(
        facets["actions"],
        json!(["billing.charged", "create", "delete", "rename"])
    );
    assert_eq!(
        server.json(notes, "/api/actions?q=post").await?["actions"],
        json!([])
    );
    assert_eq!(
        server
            .json(notes, &format!("/api/records/post/{}/history", s.post))
            .await?["entries"],
        json!([])
    );
    server
        .error(notes, &format!("/api/entries/{id}"), 404)
        .await?;

    // Both at once narrow further (tenant and resource).
    assert_eq!(
        server.labels("resources=note;tenant=globex", "").await?,
        set(&["create@globex", "delete@globex"])
    );
    Ok(())
}

/// Hidden fields never leave the server: not in pages, single entries or
/// histories (the stream is checked in `stream`), in data, metadata or
/// recorded changes; filtering on a hidden metadata key is refused.
#[sqlx::test(migrations = false)]
async fn hidden_fields_are_absent_from_every_body(pool: PgPool) -> TestResult {
    let store = store(&pool).await?;
    let s = seed(&store).await?;
    let server = Server::api(&store).await?;
    let viewer = "hide=email;hide_metadata=secret";
    let secrets = [ALICE_EMAIL, NOTE_EMAIL, META_SECRET];

    // The admin sees them (so the assertions below are not vacuous).
    let (_, admin) = server.get("all", "/api/entries?limit=100").await?;
    for secret in secrets {
        assert!(admin.contains(secret), "{secret}");
    }

    let created = server
        .json("all", "/api/entries?action=post.created")
        .await?;
    let id = created["entries"][0]["id"].as_i64().ok_or("id")?;
    let paths = [
        "/api/entries?limit=100".to_owned(),
        "/api/entries?page=1&per_page=3&count=exact".to_owned(),
        format!("/api/entries/{id}"),
        format!("/api/records/post/{}/history", s.post),
        format!("/api/records/note/{}/history", s.note_acme),
        format!("/api/records/note/{}/history", s.note_globex),
    ];
    for path in &paths {
        let (status, body) = server.get(viewer, path).await?;
        assert_eq!(status, 200, "{path}: {body}");
        for secret in secrets {
            assert!(!body.contains(secret), "{path} shows {secret}: {body}");
        }
    }
    // What is not hidden is still there.
    let entry = server.json(viewer, &format!("/api/entries/{id}")).await?;
    assert_eq!(entry["data"]["title"], "Hello");
    assert_eq!(entry["metadata"]["source"], "api");
    assert_eq!(entry["changes"]["new_values"]["title"], "Hello");
    assert!(entry["changes"]["new_values"].get("email").is_none());

    // Filters on the hidden metadata key would reveal it through what matches.
    let probe = enc(&format!(r#"{{"secret":"{META_SECRET}"}}"#));
    let parameter = server
        .error(viewer, &format!("/api/entries?metadata={probe}"), 400)
        .await?;
    assert_eq!(parameter.as_deref(), Some("metadata"));
    let parameter = server
        .error(viewer, &format!("/api/stream?metadata={probe}"), 400)
        .await?;
    assert_eq!(parameter.as_deref(), Some("metadata"));
    let hidden_mode = server
        .error("hide_metadata=mode", "/api/entries?mode=auto", 400)
        .await?;
    assert_eq!(hidden_mode.as_deref(), Some("mode"));
    Ok(())
}
