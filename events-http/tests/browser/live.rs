//! Live updates: an entry written after the feed opened appears at its top
//! without a reload, and only when it matches the page's filters.

use std::time::{Duration, Instant};

use events_core::audit::ManualEntry;
use sqlx::PgPool;

use crate::TestResult;
use crate::app::{self, Admin, Note, Title};
use crate::browser::with_browser;
use crate::server::Server;

/// The feed filtered to `Note` is open; the test then creates a note and
/// writes an entry about something else. The note's row appears on top
/// within two seconds, the other never does, and the page was not reloaded
/// (a value the test left on `window` is still there).
#[sqlx::test(migrations = false)]
async fn new_entries_appear_in_the_open_feed(pool: PgPool) -> TestResult {
    let store = app::store(&pool).await?;
    let admin = Admin {
        id: uuid::Uuid::now_v7(),
    };
    Note::create(Title {
        title: "Old".into(),
    })
    .actor(&admin)
    .run(&store)
    .await?;
    let server = Server::start(store.clone()).await?;

    with_browser(1280, 900, |page| async move {
        page.goto(&server.url("?resource=Note")).await?;
        page.wait_for_feed(&["create"]).await?;
        page.js("window.__sameDocument = 'yes'; return null;")
            .await?;
        // The stream is open once the script said so.
        page.wait_for(
            "the live stream to open",
            Duration::from_secs(5),
            || async {
                let status = page.texts("#live-status").await?;
                Ok(status.first().filter(|s| s.starts_with("Live")).map(|_| ()))
            },
        )
        .await?;

        store
            .audit()
            .track(ManualEntry::new("elsewhere.happened"))
            .await?;
        let note = Note::create(Title {
            title: "New".into(),
        })
        .actor(&admin)
        .run(&store)
        .await?;
        let written = Instant::now();
        page.wait_for("the new note's row", Duration::from_secs(2), || async {
            let rows = page
                .js("return document.querySelectorAll('#feed-rows tr').length;")
                .await?;
            Ok((rows == 2).then_some(()))
        })
        .await?;
        let took = written.elapsed();
        assert!(took < Duration::from_secs(2), "took {took:?}");
        assert_eq!(page.feed_actions().await?, ["create", "create"]);
        let record = page
            .texts("#feed-rows tr:first-child td[data-label=Record] .id")
            .await?;
        assert_eq!(record, [format!("…{}", &note.id.to_string()[28..])]);
        assert_eq!(
            page.js("return window.__sameDocument;").await?,
            "yes",
            "no reload"
        );
        let status = page.texts("#live-status").await?;
        assert_eq!(status, ["Live: 1 new entry since this page loaded."]);
        assert!(
            !page
                .feed_actions()
                .await?
                .iter()
                .any(|a| a == "elsewhere.happened")
        );
        Ok(())
    })
    .await
}
