//! One entry, a record's history with its recorded values, facets, typeahead
//! and the served OpenAPI document.

use serde_json::{Value, json};
use sqlx::PgPool;

use super::fixture::{NOTE_EMAIL, Server, TestResult, seed, store};

/// `GET entries/{id}`: the entry with every field; 404 for an id that does
/// not exist.
#[sqlx::test(migrations = false)]
async fn one_entry_by_id(pool: PgPool) -> TestResult {
    let store = store(&pool).await?;
    let s = seed(&store).await?;
    let server = Server::api(&store).await?;
    let page = server
        .json("all", "/api/entries?action=post.created")
        .await?;
    let id = page["entries"][0]["id"].as_i64().ok_or("id")?;
    let entry = server.json("all", &format!("/api/entries/{id}")).await?;
    assert_eq!(entry, page["entries"][0]);
    assert_eq!(entry["kind"], "manual");
    assert_eq!(entry["resource"], "post");
    assert_eq!(entry["record_id"], s.post.to_string());
    assert_eq!(
        entry["actor"],
        json!({"column": "user_id", "actor_type": "Member", "key": s.alice.0.to_string()})
    );
    assert_eq!(
        entry["target"],
        json!({"kind": "user", "id": s.followed.to_string()})
    );
    assert_eq!(
        (
            entry["request_id"].as_str(),
            entry["mode"].as_str(),
            entry["module"].as_str()
        ),
        (Some("req-1"), Some("auto"), Some("blog"))
    );
    assert!(entry["occurred_at"].is_string() && entry["committed_at"].is_string());
    assert_eq!(entry["changes"]["fields"].as_array().map(Vec::len), Some(2));

    assert_eq!(server.error("all", "/api/entries/999999", 404).await?, None);
    Ok(())
}

/// `GET records/{resource}/{record_id}/history`: oldest first, each entry with
/// its old, changed and new values and the fields from → to; an unknown
/// resource or record has an empty history; long ones come in parts.
#[sqlx::test(migrations = false)]
async fn history_lists_the_records_values_oldest_first(pool: PgPool) -> TestResult {
    let store = store(&pool).await?;
    let s = seed(&store).await?;
    let server = Server::api(&store).await?;
    let history = server
        .json("all", &format!("/api/records/note/{}/history", s.note_acme))
        .await?;
    assert_eq!(history["resource"], "note");
    assert_eq!(history["record_id"], s.note_acme.to_string());
    let entries = history["entries"].as_array().ok_or("entries")?;
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["create", "rename"]);

    let created = &entries[0]["changes"];
    assert_eq!(created["new_values"]["title"], "Plans");
    assert_eq!(created["new_values"]["email"], NOTE_EMAIL);
    assert!(created["old_values"].is_null() && created["diff_values"].is_null());
    let title = field(created, "title").ok_or("title field")?;
    assert!(title.get("from").is_none());
    assert_eq!(title["to"], "Plans");

    let renamed = &entries[1]["changes"];
    assert_eq!(renamed["old_values"]["title"], "Plans");
    assert_eq!(renamed["diff_values"], json!({"title": "Plans v2"}));
    assert!(renamed["new_values"].is_null());
    assert_eq!(renamed["unchanged"], false);
    assert_eq!(
        renamed["fields"],
        json!([{"field": "title", "from": "Plans", "to": "Plans v2"}])
    );

    let deleted = server
        .json(
            "all",
            &format!("/api/records/note/{}/history", s.note_globex),
        )
        .await?;
    let destroy = &deleted["entries"][1]["changes"];
    assert_eq!(deleted["entries"][1]["kind"], "destroy");
    assert_eq!(destroy["old_values"]["title"], "Old");
    assert!(field(destroy, "title").is_some_and(|f| f.get("to").is_none()));

    // Unknown resource, unknown record: empty, not an error.
    for path in [
        format!("/api/records/nothing/{}/history", s.note_acme),
        format!("/api/records/note/{}/history", uuid::Uuid::now_v7()),
    ] {
        let empty = server.json("all", &path).await?;
        assert_eq!(empty["entries"], json!([]), "{path}");
        assert_eq!(empty["has_more"], false);
    }

    // In parts.
    let post = format!("/api/records/post/{}/history", s.post);
    let first = server.json("all", &format!("{post}?limit=2")).await?;
    assert_eq!(first["has_more"], true);
    let next = first["next_cursor"].as_str().ok_or("cursor")?;
    let rest = server
        .json("all", &format!("{post}?limit=2&after={next}"))
        .await?;
    let all = server.json("all", &post).await?;
    let mut parts = first["entries"].as_array().cloned().unwrap_or_default();
    parts.extend(rest["entries"].as_array().cloned().unwrap_or_default());
    assert_eq!(Value::Array(parts), all["entries"]);
    assert_eq!(all["entries"].as_array().map(Vec::len), Some(3));
    Ok(())
}

fn field<'a>(changes: &'a Value, name: &str) -> Option<&'a Value> {
    changes["fields"]
        .as_array()?
        .iter()
        .find(|f| f["field"] == name)
}

/// `GET facets` and `GET actions`.
#[sqlx::test(migrations = false)]
async fn facets_and_typeahead(pool: PgPool) -> TestResult {
    let store = store(&pool).await?;
    let s = seed(&store).await?;
    let server = Server::api(&store).await?;
    let facets = server.json("all", "/api/facets").await?;
    assert_eq!(
        facets["actions"],
        json!([
            "billing.charged",
            "create",
            "delete",
            "post.created",
            "post.touched",
            "post.updated",
            "rename",
            "system.booted",
            "user.login"
        ])
    );
    assert_eq!(
        facets["kinds"],
        json!(["create", "destroy", "manual", "update"])
    );
    assert_eq!(
        facets["resources"],
        json!(["invoice", "note", "post", "user"])
    );
    assert_eq!(facets["modes"], json!(["auto", "manual"]));
    assert_eq!(facets["modules"], json!(["auth", "blog"]));
    let actors = facets["actors"].to_string();
    for key in [
        s.alice.0.to_string(),
        s.bob.0.to_string(),
        "cron".to_owned(),
    ] {
        assert!(actors.contains(&key), "{key} in {actors}");
    }

    let names = server.json("all", "/api/actions?q=post.").await?;
    assert_eq!(
        names["actions"],
        json!(["post.created", "post.touched", "post.updated"])
    );
    let limited = server.json("all", "/api/actions?q=post.&limit=1").await?;
    assert_eq!(limited["actions"], json!(["post.created"]));
    let five = server.json("all", "/api/actions").await?;
    assert_eq!(
        five["actions"].as_array().map(Vec::len),
        Some(5),
        "5 names by default"
    );
    let none = server.json("all", "/api/actions?q=zzz").await?;
    assert_eq!(none["actions"], json!([]));
    Ok(())
}

/// The served document: OpenAPI 3, every route, its server the mount path.
#[sqlx::test(migrations = false)]
async fn the_openapi_document_is_served(pool: PgPool) -> TestResult {
    let store = store(&pool).await?;
    let server = Server::api(&store).await?;
    let doc = server.json("all", "/api/openapi.json").await?;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    assert_eq!(doc["servers"][0]["url"], "/api");
    for route in [
        "/entries",
        "/entries/{id}",
        "/records/{resource}/{record_id}/history",
        "/facets",
        "/actions",
        "/stream",
        "/openapi.json",
    ] {
        assert!(doc["paths"][route]["get"].is_object(), "{route}");
    }
    Ok(())
}
