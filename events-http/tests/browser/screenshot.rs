//! Refreshes `docs/console.png`, the README's picture of the console, from a
//! running example (ignored by default: it needs the example's server).
//!
//! ```text
//! cargo run --example console -- 3000 &
//! CONSOLE_URL='http://127.0.0.1:3000/activity?as=admin' \
//!   cargo test -p events-http --test browser -- --ignored screenshot
//! ```
//!
//! `CONSOLE_WIDTH` and `CONSOLE_SHOT` take another width and file (a phone's
//! 375 pixels into `/tmp/phone.png`, say) to look at other layouts.

use crate::TestResult;
use crate::browser::with_browser;

#[tokio::test]
#[ignore = "needs `cargo run --example console` running; set CONSOLE_URL"]
async fn screenshot() -> TestResult {
    let url = std::env::var("CONSOLE_URL")
        .map_err(|_| "set CONSOLE_URL to the console of `cargo run --example console`")?;
    let width = match std::env::var("CONSOLE_WIDTH") {
        Ok(text) => text.parse()?,
        Err(_) => 1280,
    };
    let path = std::env::var("CONSOLE_SHOT")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/console.png").to_owned());
    with_browser(width, 900, |page| async move {
        page.goto(&url).await?;
        page.wait_for("the page", std::time::Duration::from_secs(5), || async {
            Ok(page.texts("main h1").await?.first().cloned())
        })
        .await?;
        let png = page.client.screenshot().await?;
        std::fs::write(&path, png)?;
        println!("wrote {path}");
        Ok(())
    })
    .await
}
