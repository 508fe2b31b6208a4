//! The feed opens under its mount path, and its filter form narrows it.

use events_core::audit::ManualEntry;
use sqlx::PgPool;

use crate::TestResult;
use crate::app::{self, Admin, Note, Title};
use crate::browser::with_browser;
use crate::server::{MOUNT, Server};

/// The feed lists every entry, newest first, with the page's landmarks, a
/// labelled filter form and links that stay under the mount path.
#[sqlx::test(migrations = false)]
async fn the_feed_lists_entries_newest_first(pool: PgPool) -> TestResult {
    let store = app::store(&pool).await?;
    let admin = Admin {
        id: uuid::Uuid::now_v7(),
    };
    Note::create(Title {
        title: "Draft".into(),
    })
    .actor(&admin)
    .run(&store)
    .await?;
    store
        .audit()
        .track(ManualEntry::new("login.failed").tenant("acme"))
        .await?;
    let server = Server::start(store).await?;

    with_browser(1280, 900, |page| async move {
        page.goto(&server.console).await?;
        page.wait_for_feed(&["login.failed", "create"]).await?;
        let title = page.client.title().await?;
        assert_eq!(title, "Activity");
        let landmarks = page.texts("main h1").await?;
        assert_eq!(landmarks, ["Activity"]);
        // Every input of the form has a label.
        let unlabelled = page
            .js("return Array.from(document.querySelectorAll('form input:not([type=hidden])')).filter(i => !document.querySelector('label[for=\"' + i.id + '\"]')).length;")
            .await?;
        assert_eq!(unlabelled, 0);
        let hrefs = page
            .js("return Array.from(document.querySelectorAll('#feed-rows a')).map(a => new URL(a.href).pathname);")
            .await?;
        let hrefs: Vec<String> = serde_json::from_value(hrefs)?;
        assert!(!hrefs.is_empty());
        assert!(hrefs.iter().all(|h| h.starts_with(MOUNT)), "{hrefs:?}");
        Ok(())
    })
    .await
}

/// Filling "Action starts with" and submitting the form shows only the
/// matching entries, and keeps the filter in the URL and the form.
#[sqlx::test(migrations = false)]
async fn filtering_by_action_prefix_shows_only_matching_entries(pool: PgPool) -> TestResult {
    let store = app::store(&pool).await?;
    let audit = store.audit();
    for action in [
        "user.created",
        "project.created",
        "user.deleted",
        "login.failed",
        "userland.visited",
    ] {
        audit.track(ManualEntry::new(action)).await?;
    }
    let server = Server::start(store).await?;

    with_browser(1280, 900, |page| async move {
        page.goto(&server.console).await?;
        page.wait_for_feed(&[
            "userland.visited",
            "login.failed",
            "user.deleted",
            "project.created",
            "user.created",
        ])
        .await?;
        page.fill("#f-search", "user.").await?;
        page.click("form.filters button[type=submit]").await?;
        page.wait_for_feed(&["user.deleted", "user.created"])
            .await?;
        let url = page.client.current_url().await?;
        assert!(url.query().unwrap_or("").contains("search=user."), "{url}");
        let value = page
            .js("return document.getElementById('f-search').value;")
            .await?;
        assert_eq!(value, "user.");
        // Clearing the filters shows everything again.
        page.click_link("Clear filters").await?;
        page.wait_for_feed(&[
            "userland.visited",
            "login.failed",
            "user.deleted",
            "project.created",
            "user.created",
        ])
        .await?;
        Ok(())
    })
    .await
}
