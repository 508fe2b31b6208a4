//! `GET entries`: each filter parameter with a matching and an excluding case,
//! the four orders, numbered pages with each count mode, keyset paging through
//! every page, offset paging.

use serde_json::Value;
use sqlx::PgPool;

use super::fixture::{ALL, Server, TestResult, enc, label, seed, set, store};

/// Every filter parameter: the entries each value selects, exactly (so each
/// case both matches and excludes).
#[sqlx::test(migrations = false)]
async fn every_filter_matches_and_excludes(pool: PgPool) -> TestResult {
    let store = store(&pool).await?;
    let s = seed(&store).await?;
    let server = Server::api(&store).await?;
    let all = server.labels("all", "").await?;
    assert_eq!(all, set(&ALL));

    // The transaction of `post.created`, read back from the API.
    let created = server
        .json("all", "/api/entries?action=post.created")
        .await?;
    let txid = created["entries"][0]["transaction_id"]
        .as_u64()
        .ok_or("txid")?;
    let between = enc(&s.between.to_rfc3339());
    let acme = [
        "create@acme",
        "rename@acme",
        "post.created@acme",
        "post.updated@acme",
        "post.touched@acme",
    ];
    let later = [
        "create@globex",
        "delete@globex",
        "user.login@globex",
        "billing.charged@globex",
        "system.booted@-",
    ];
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            "resource=post".into(),
            vec![
                "post.created@acme",
                "post.updated@acme",
                "post.touched@acme",
            ],
        ),
        (
            "resource=note&resource=user".into(),
            vec![
                "create@acme",
                "rename@acme",
                "create@globex",
                "delete@globex",
                "user.login@globex",
            ],
        ),
        ("resource=nothing".into(), vec![]),
        (
            format!("record_id={}", s.note_acme),
            vec!["create@acme", "rename@acme"],
        ),
        (format!("resource=post&record_id={}", s.note_acme), vec![]),
        (
            format!("record_id={}&record_id={}", s.note_globex, s.login_user),
            vec!["create@globex", "delete@globex", "user.login@globex"],
        ),
        (
            "action=post.*".into(),
            vec![
                "post.created@acme",
                "post.updated@acme",
                "post.touched@acme",
            ],
        ),
        (
            "action=post.created&action=system.booted".into(),
            vec!["post.created@acme", "system.booted@-"],
        ),
        ("action=post".into(), vec![]),
        ("search=b".into(), vec!["billing.charged@globex"]),
        ("search=zzz".into(), vec![]),
        ("kind=create".into(), vec!["create@acme", "create@globex"]),
        (
            "kind=update&kind=destroy".into(),
            vec!["rename@acme", "delete@globex"],
        ),
        ("kind=manual&resource=note".into(), vec![]),
        (
            format!("actor={}", s.alice.0),
            vec![
                "create@acme",
                "rename@acme",
                "post.created@acme",
                "post.updated@acme",
            ],
        ),
        (
            format!("actor=user_id:{}", s.bob.0),
            vec!["create@globex", "delete@globex", "user.login@globex"],
        ),
        ("actor=service:cron".into(), vec!["billing.charged@globex"]),
        ("actor=service:nobody".into(), vec![]),
        (format!("target={}", s.followed), vec!["post.created@acme"]),
        (format!("target={}", s.post), vec![]),
        ("target_kind=user".into(), vec!["post.created@acme"]),
        ("target_kind=group".into(), vec![]),
        (
            format!("for_user={}", s.followed),
            vec!["post.created@acme"],
        ),
        (
            format!("for_user={}", s.bob.0),
            vec!["create@globex", "delete@globex", "user.login@globex"],
        ),
        ("tenant=acme".into(), acme.to_vec()),
        ("tenant=initech".into(), vec![]),
        (format!("transaction={txid}"), vec!["post.created@acme"]),
        (format!("transaction={}", txid + 1_000_000), vec![]),
        (format!("since={between}"), later.to_vec()),
        (format!("until={between}"), acme.to_vec()),
        ("since=2000-01-01&until=2000-01-02".into(), vec![]),
        (format!("committed_since={between}"), later.to_vec()),
        (format!("committed_until={between}"), acme.to_vec()),
        (
            format!("metadata={}", enc(r#"{"source":"api"}"#)),
            vec!["post.created@acme", "post.updated@acme"],
        ),
        (format!("metadata={}", enc(r#"{"source":"cli"}"#)), vec![]),
        (
            format!("metadata={}", enc(r#"{"amount":42}"#)),
            vec!["billing.charged@globex"],
        ),
        ("request_id=req-1".into(), vec!["post.created@acme"]),
        ("request_id=req-9".into(), vec![]),
        ("mode=manual".into(), vec!["user.login@globex"]),
        ("mode=other".into(), vec![]),
        ("module=blog".into(), vec!["post.created@acme"]),
        ("module=shop".into(), vec![]),
        (
            "resource=post&hide_unchanged=true".into(),
            vec!["post.created@acme", "post.updated@acme"],
        ),
        (
            "resource=post&hide_unchanged=false".into(),
            vec![
                "post.created@acme",
                "post.updated@acme",
                "post.touched@acme",
            ],
        ),
        // Filters combine with AND.
        (
            "tenant=globex&kind=manual&actor=service:cron".into(),
            vec!["billing.charged@globex"],
        ),
        // An empty value means "not set", as an empty form field.
        ("tenant=&resource=".into(), ALL.to_vec()),
    ];
    for (query, expected) in cases {
        let got = server.labels("all", &query).await?;
        assert_eq!(got, set(&expected), "{query}");
    }
    Ok(())
}

/// The four orders, with the id breaking ties.
#[sqlx::test(migrations = false)]
async fn orders_sort_by_occurred_or_committed_time(pool: PgPool) -> TestResult {
    let store = store(&pool).await?;
    seed(&store).await?;
    let server = Server::api(&store).await?;
    let ids = |page: &Value| -> Vec<i64> {
        page["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["id"].as_i64())
            .collect()
    };
    let default = ids(&server.json("all", "/api/entries?limit=100").await?);
    let mut ascending = default.clone();
    ascending.sort_unstable();
    let mut descending = ascending.clone();
    descending.reverse();
    assert_eq!(default, descending, "newest first by default");
    for (order, expected) in [
        ("occurred_desc", &descending),
        ("occurred_asc", &ascending),
        ("committed_desc", &descending),
        ("committed_asc", &ascending),
    ] {
        let page = server
            .json("all", &format!("/api/entries?order={order}&limit=100"))
            .await?;
        assert_eq!(&ids(&page), expected, "{order}");
    }
    let first = server
        .json("all", "/api/entries?order=occurred_asc&limit=1")
        .await?;
    assert_eq!(label(&first["entries"][0]), "create@acme");
    Ok(())
}

/// Numbered pages: page numbers, totals in each count mode, total pages.
#[sqlx::test(migrations = false)]
async fn numbered_pages_count_in_each_mode(pool: PgPool) -> TestResult {
    let store = store(&pool).await?;
    seed(&store).await?;
    let server = Server::api(&store).await?;

    let page = server.json("all", "/api/entries?page=2&per_page=4").await?;
    assert_eq!(page["page"], 2);
    assert_eq!(page["per_page"], 4);
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(4));
    // Numbered pages count up to 10,000 by default: exact here.
    assert_eq!(page["total"]["value"], 10);
    assert_eq!(page["total"]["kind"], "exact");
    assert_eq!(page["total_pages"], 3);
    assert_eq!(page["has_more"], true);
    assert!(page["next_cursor"].is_string());

    let last = server.json("all", "/api/entries?page=3&per_page=4").await?;
    assert_eq!(last["entries"].as_array().map(Vec::len), Some(2));
    assert_eq!(last["has_more"], false);
    assert!(last["next_cursor"].is_null());

    let exact = server
        .json(
            "all",
            "/api/entries?page=1&per_page=4&count=exact&tenant=acme",
        )
        .await?;
    assert_eq!(
        (
            exact["total"]["value"].as_u64(),
            exact["total"]["kind"].as_str()
        ),
        (Some(5), Some("exact"))
    );

    let capped = server
        .json("all", "/api/entries?page=1&per_page=2&count=capped:3")
        .await?;
    assert_eq!(
        (
            capped["total"]["value"].as_u64(),
            capped["total"]["kind"].as_str()
        ),
        (Some(3), Some("at_least"))
    );
    assert_eq!(capped["total_pages"], 2);
    let under_cap = server
        .json("all", "/api/entries?page=1&per_page=2&count=capped:50")
        .await?;
    assert_eq!(under_cap["total"]["kind"], "exact");
    let default_cap = server
        .json("all", "/api/entries?page=1&count=capped")
        .await?;
    assert_eq!(default_cap["total"]["value"], 10);

    sqlx::query("ANALYZE events").execute(&pool).await?;
    let estimated = server
        .json("all", "/api/entries?page=1&count=estimated")
        .await?;
    assert_eq!(estimated["total"]["kind"], "estimated");
    assert!(estimated["total"]["value"].as_u64().is_some());
    let filtered = server
        .json("all", "/api/entries?page=1&count=estimated&tenant=acme")
        .await?;
    assert_eq!(filtered["total"]["kind"], "estimated");

    let none = server.json("all", "/api/entries?page=1&count=none").await?;
    assert!(none["total"].is_null() && none["total_pages"].is_null());
    // Keyset pages count nothing unless asked.
    let keyset = server.json("all", "/api/entries?limit=3").await?;
    assert!(keyset["total"].is_null() && keyset["page"].is_null());
    let keyset_counted = server
        .json("all", "/api/entries?limit=3&count=exact")
        .await?;
    assert_eq!(keyset_counted["total"]["value"], 10);
    Ok(())
}

/// Following `next_cursor` from the first keyset page visits every entry once,
/// in order, in each order; offset pages agree.
#[sqlx::test(migrations = false)]
async fn keyset_pages_walk_the_full_list(pool: PgPool) -> TestResult {
    let store = store(&pool).await?;
    seed(&store).await?;
    let server = Server::api(&store).await?;
    for order in [
        "occurred_desc",
        "occurred_asc",
        "committed_desc",
        "committed_asc",
    ] {
        let full = server
            .json("all", &format!("/api/entries?order={order}&limit=1000"))
            .await?;
        let full: Vec<Value> = full["entries"].as_array().cloned().unwrap_or_default();
        assert_eq!(full.len(), 10);
        let mut walked = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..10 {
            let cursor = after
                .as_deref()
                .map(|c| format!("&after={}", enc(c)))
                .unwrap_or_default();
            let page = server
                .json(
                    "all",
                    &format!("/api/entries?order={order}&limit=3{cursor}"),
                )
                .await?;
            walked.extend(page["entries"].as_array().cloned().unwrap_or_default());
            assert_eq!(page["has_more"], page["next_cursor"].is_string());
            match page["next_cursor"].as_str() {
                Some(next) => after = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(walked, full, "{order}");

        let mut by_offset = Vec::new();
        for offset in (0..10).step_by(4) {
            let page = server
                .json(
                    "all",
                    &format!("/api/entries?order={order}&offset={offset}&limit=4"),
                )
                .await?;
            by_offset.extend(page["entries"].as_array().cloned().unwrap_or_default());
        }
        assert_eq!(by_offset, full, "{order} by offset");
    }
    // A numbered page's cursor continues as keyset pages.
    let page = server.json("all", "/api/entries?page=1&per_page=6").await?;
    let next = page["next_cursor"].as_str().ok_or("cursor")?;
    let rest = server
        .json("all", &format!("/api/entries?after={}", enc(next)))
        .await?;
    assert_eq!(rest["entries"].as_array().map(Vec::len), Some(4));
    Ok(())
}
