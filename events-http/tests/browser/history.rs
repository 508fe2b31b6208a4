//! A record's history: opened from the feed, each change shown as a table of
//! fields with the old and the new value.

use sqlx::PgPool;

use crate::TestResult;
use crate::app::{self, Admin, Note, Title};
use crate::browser::with_browser;
use crate::server::Server;

/// A note created as "Draft" and retitled "Final": its history, reached by
/// the record link of a feed row, shows the creation's value and the update's
/// `title` going from "Draft" to "Final".
#[sqlx::test(migrations = false)]
async fn a_records_history_shows_old_and_new_values(pool: PgPool) -> TestResult {
    let store = app::store(&pool).await?;
    let admin = Admin {
        id: uuid::Uuid::now_v7(),
    };
    let note = Note::create(Title {
        title: "Draft".into(),
    })
    .actor(&admin)
    .run(&store)
    .await?;
    Note::retitle(
        note.id,
        Title {
            title: "Final".into(),
        },
    )
    .actor(&admin)
    .run(&store)
    .await?;
    let server = Server::start(store).await?;

    with_browser(1280, 900, |page| async move {
        page.goto(&server.console).await?;
        page.wait_for_feed(&["retitle", "create"]).await?;
        let changed = page.texts("#feed-rows .fields-changed").await?;
        assert_eq!(changed, ["changed title"]);
        page.click("#feed-rows tr:first-child td[data-label=Record] a")
            .await?;
        let heading = page
            .wait_for(
                "the history page",
                std::time::Duration::from_secs(5),
                || async {
                    let h = page.texts("main h1").await?;
                    Ok(h.first().filter(|h| h.starts_with("History of")).cloned())
                },
            )
            .await?;
        assert!(heading.contains(&note.id.to_string()), "{heading}");
        assert_eq!(
            page.texts("ol.history .badge").await?,
            ["create", "retitle"]
        );
        // The update: one field, old → new.
        let update = "ol.history > li:nth-child(2) table.diff tbody tr";
        assert_eq!(page.texts(&format!("{update} th")).await?, ["title"]);
        assert_eq!(page.texts(&format!("{update} td.old")).await?, ["Draft"]);
        assert_eq!(page.texts(&format!("{update} td.new")).await?, ["Final"]);
        // The creation: no value before.
        let create = "ol.history > li:nth-child(1) table.diff tbody tr";
        assert_eq!(page.texts(&format!("{create} td.old")).await?, ["(none)"]);
        assert_eq!(page.texts(&format!("{create} td.new")).await?, ["Draft"]);
        let url = page.client.current_url().await?;
        assert_eq!(
            url.path(),
            format!("/admin/activity/records/Note/{}", note.id)
        );
        Ok(())
    })
    .await
}
