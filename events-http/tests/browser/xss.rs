//! Hostile text in every field the console shows (data, metadata, the string
//! actor column, the action, the resource, the tenant) is shown as text and
//! never run: on the feed, on the entry page, on the record's history, and in
//! a row that arrives live. Each payload would set `window.__pwned`.

use std::time::Duration;

use events_core::audit::ManualEntry;
use serde_json::json;
use sqlx::PgPool;

use crate::TestResult;
use crate::app::{self, Bot};
use crate::browser::{Page, with_browser};
use crate::server::Server;

const SCRIPT: &str = "<script>window.__pwned = true</script>";
const IMG: &str = "<img src=x onerror=\"window.__pwned = true\">";
const ATTRIBUTE: &str = "\" onerror=\"window.__pwned = true\" x=\"";
const BREAKOUT: &str = "\"><img src=x onerror=window.__pwned=true>";

/// An entry with a payload in every shown field.
fn hostile(action: &str, actor: &str) -> ManualEntry<app::TestLog> {
    ManualEntry::new(action)
        .actor(&Bot(actor.to_owned()))
        .resource(BREAKOUT, uuid::Uuid::now_v7())
        .tenant(IMG)
        .data(json!({ "script": SCRIPT, "img": IMG, "attribute": ATTRIBUTE }))
        .metadata(json!({ "breakout": BREAKOUT, "script": SCRIPT }))
}

async fn assert_not_pwned(page: &Page, where_: &str) -> TestResult {
    // Give an image's error handler the time to fire, had it been parsed.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pwned = page
        .js("return window.__pwned === undefined ? null : window.__pwned;")
        .await?;
    assert_eq!(pwned, serde_json::Value::Null, "a payload ran on {where_}");
    let injected = page
        .js("return document.querySelectorAll('main script, main img, [onerror]').length;")
        .await?;
    assert_eq!(injected, 0, "markup was injected on {where_}");
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn payloads_are_shown_as_text_and_never_run(pool: PgPool) -> TestResult {
    let store = app::store(&pool).await?;
    let audit = store.audit();
    audit.track(hostile(SCRIPT, IMG)).await?;
    audit.track(hostile(ATTRIBUTE, BREAKOUT)).await?;
    let server = Server::start(store.clone()).await?;

    with_browser(1280, 900, |page| async move {
        page.goto(&server.console).await?;
        page.wait_for_feed(&[ATTRIBUTE, SCRIPT]).await?;
        assert_not_pwned(&page, "the feed").await?;
        let text = page.body_text().await?;
        for literal in [SCRIPT, IMG, BREAKOUT] {
            assert!(
                text.contains(literal),
                "{literal} is not shown as text on the feed:\n{text}"
            );
        }
        let actors = page.texts("#feed-rows td[data-label=Actor] a").await?;
        assert_eq!(actors, [format!("Bot {BREAKOUT}"), format!("Bot {IMG}")]);

        // The entry page: data and metadata, pretty-printed, as text.
        page.click("#feed-rows tr:last-child td[data-label=When] a")
            .await?;
        page.wait_for("the entry page", Duration::from_secs(5), || async {
            Ok(page.texts("#data").await?.into_iter().next())
        })
        .await?;
        assert_not_pwned(&page, "the entry page").await?;
        let data: serde_json::Value = serde_json::from_str(&page.texts("#data").await?[0])?;
        assert_eq!(data["script"], SCRIPT);
        assert_eq!(data["attribute"], ATTRIBUTE);
        let metadata: serde_json::Value = serde_json::from_str(&page.texts("#metadata").await?[0])?;
        assert_eq!(metadata["breakout"], BREAKOUT);
        assert_eq!(page.texts("main h1 .badge").await?, [SCRIPT]);

        // The record's history, whose resource is a payload too.
        page.click_link("History of this record").await?;
        page.wait_for("the history page", Duration::from_secs(5), || async {
            Ok(page.texts("ol.history").await?.into_iter().next())
        })
        .await?;
        assert_not_pwned(&page, "the history page").await?;
        let heading = page.texts("main h1").await?;
        assert!(heading[0].contains(BREAKOUT), "{heading:?}");

        // A live row.
        page.goto(&server.console).await?;
        page.wait_for(
            "the live stream to open",
            Duration::from_secs(5),
            || async {
                let status = page.texts("#live-status").await?;
                Ok(status.first().filter(|s| s.starts_with("Live")).map(|_| ()))
            },
        )
        .await?;
        store.audit().track(hostile(IMG, SCRIPT)).await?;
        page.wait_for_feed(&[IMG, ATTRIBUTE, SCRIPT]).await?;
        assert_not_pwned(&page, "the live feed").await?;
        let actors = page.texts("#feed-rows td[data-label=Actor] a").await?;
        assert_eq!(actors[0], format!("Bot {SCRIPT}"));
        Ok(())
    })
    .await
}
