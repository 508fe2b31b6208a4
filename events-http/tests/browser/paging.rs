//! Keyset pages, forward and back: "Older" and "Newer" links carry the cursor
//! in the URL, and the browser's own Back button returns to the page before.

use events_core::audit::ManualEntry;
use sqlx::PgPool;

use crate::TestResult;
use crate::app;
use crate::browser::with_browser;
use crate::server::Server;

/// Twelve entries, five a page: three pages forward by "Older", two back by
/// "Newer" (the last one is the first page again: no "Newer", live on), and
/// Back in the browser's history.
#[sqlx::test(migrations = false)]
async fn pages_go_forward_and_back(pool: PgPool) -> TestResult {
    let store = app::store(&pool).await?;
    let audit = store.audit();
    for i in 0..12 {
        audit
            .track(ManualEntry::new(format!("step.n{i:02}")))
            .await?;
    }
    let server = Server::start(store).await?;
    let first = ["step.n11", "step.n10", "step.n09", "step.n08", "step.n07"];
    let second = ["step.n06", "step.n05", "step.n04", "step.n03", "step.n02"];
    let third = ["step.n01", "step.n00"];

    with_browser(1280, 900, |page| async move {
        page.goto(&server.url("?limit=5")).await?;
        page.wait_for_feed(&first).await?;
        assert!(
            !page.has_link("‹ Newer").await?,
            "the first page has nothing newer"
        );
        assert!(
            page.js("return !!document.querySelector('table[data-stream]');")
                .await?
                == true
        );

        page.click_link("Older ›").await?;
        page.wait_for_feed(&second).await?;
        let url = page.client.current_url().await?;
        let query = url.query().unwrap_or("");
        assert!(
            query.contains("limit=5") && query.contains("after="),
            "{url}"
        );
        assert!(
            page.js("return !document.querySelector('table[data-stream]');")
                .await?
                == true,
            "no live updates past the first page"
        );

        page.click_link("Older ›").await?;
        page.wait_for_feed(&third).await?;
        assert!(
            !page.has_link("Older ›").await?,
            "the last page has nothing older"
        );

        page.click_link("‹ Newer").await?;
        page.wait_for_feed(&second).await?;
        assert!(
            page.client
                .current_url()
                .await?
                .query()
                .unwrap_or("")
                .contains("before=")
        );

        page.click_link("‹ Newer").await?;
        page.wait_for_feed(&first).await?;
        assert!(
            !page.has_link("‹ Newer").await?,
            "back at the newest entries"
        );
        assert!(
            page.js("return !!document.querySelector('table[data-stream]');")
                .await?
                == true,
            "the first page is live again"
        );

        // The browser's history goes back the same way.
        page.client.back().await?;
        page.wait_for_feed(&second).await?;
        page.client.back().await?;
        page.wait_for_feed(&third).await?;
        page.click_link("« Newest").await?;
        page.wait_for_feed(&first).await?;
        Ok(())
    })
    .await
}
