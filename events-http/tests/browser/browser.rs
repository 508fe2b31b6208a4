//! Headless Chromium for a test: ChromeDriver started as a child process on a
//! free port (its process group killed on drop, so no browser outlives the
//! test), one session through fantoccini, and the few page helpers the tests
//! share (read texts, fill, click, wait for a condition).

use std::future::Future;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use crate::TestResult;

/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's ChromeDriver, matching it.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A ChromeDriver process, killed with its process group (Chromium included)
/// when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Result<Driver, BoxError> {
        for path in [CHROMIUM, CHROMEDRIVER] {
            if !Path::new(path).exists() {
                return Err(format!(
                    "the browser tests need Chromium and ChromeDriver ({path} is missing): \
                     apt-get install chromium chromium-driver"
                )
                .into());
            }
        }
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("could not start {CHROMEDRIVER}: {e}"))?;
        let driver = Driver { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(
                    format!("{CHROMEDRIVER} did not listen on port {port} within 20 s").into(),
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(driver)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: ChromeDriver and the Chromium processes it started.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser session on a page.
#[derive(Clone)]
pub struct Page {
    /// The WebDriver session.
    pub client: Client,
}

/// Runs `body` in a fresh headless browser (window `width` × `height`), then
/// ends the session and ChromeDriver whatever happened, a panic included
/// (which is then resumed).
pub async fn with_browser<F, Fut>(width: u32, height: u32, body: F) -> TestResult
where
    F: FnOnce(Page) -> Fut,
    Fut: Future<Output = TestResult>,
{
    let driver = Driver::start()?;
    let mut capabilities = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                format!("--window-size={width},{height}"),
            ],
        },
    });
    if width < 500 {
        // Chromium's windows are at least 500 pixels wide: a phone is emulated.
        capabilities["goog:chromeOptions"]["mobileEmulation"] =
            json!({ "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1 } });
    }
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(match capabilities {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        })
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .map_err(|e| format!("could not open a Chromium session through ChromeDriver: {e}"))?;
    let outcome = AssertUnwindSafe(body(Page {
        client: client.clone(),
    }))
    .catch_unwind()
    .await;
    let _ = client.close().await;
    drop(driver);
    match outcome {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

impl Page {
    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) -> TestResult {
        self.client.goto(url).await?;
        Ok(())
    }

    /// Runs `script` in the page (WebDriver's own, not subject to the page's
    /// Content-Security-Policy) and returns its value.
    pub async fn js(&self, script: &str) -> Result<Value, BoxError> {
        Ok(self.client.execute(script, vec![]).await?)
    }

    /// The trimmed text of every element matching `css`, in document order.
    pub async fn texts(&self, css: &str) -> Result<Vec<String>, BoxError> {
        let value = self
            .client
            .execute(
                "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.textContent.trim());",
                vec![json!(css)],
            )
            .await?;
        Ok(serde_json::from_value(value)?)
    }

    /// The page's visible text.
    pub async fn body_text(&self) -> Result<String, BoxError> {
        Ok(self.client.find(Locator::Css("body")).await?.text().await?)
    }

    /// The actions of the feed's rows, top to bottom.
    pub async fn feed_actions(&self) -> Result<Vec<String>, BoxError> {
        self.texts("#feed-rows td.action .badge").await
    }

    /// Types `text` into the input matching `css`, replacing its value.
    pub async fn fill(&self, css: &str, text: &str) -> TestResult {
        let input = self.client.find(Locator::Css(css)).await?;
        input.clear().await?;
        input.send_keys(text).await?;
        Ok(())
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) -> TestResult {
        self.client.find(Locator::Css(css)).await?.click().await?;
        Ok(())
    }

    /// Clicks the link whose text is `text`.
    pub async fn click_link(&self, text: &str) -> TestResult {
        self.client
            .find(Locator::LinkText(text))
            .await?
            .click()
            .await?;
        Ok(())
    }

    /// Whether a link with text `text` is on the page.
    pub async fn has_link(&self, text: &str) -> Result<bool, BoxError> {
        Ok(!self
            .client
            .find_all(Locator::LinkText(text))
            .await?
            .is_empty())
    }

    /// Waits up to `timeout` for `check` to return `Some`, polling every
    /// 50 ms; an error naming `what` (and the last page text) otherwise.
    pub async fn wait_for<T, F, Fut>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: F,
    ) -> Result<T, BoxError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, BoxError>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = check().await? {
                return Ok(value);
            }
            if Instant::now() > deadline {
                let text = self.body_text().await.unwrap_or_default();
                return Err(format!(
                    "timed out after {timeout:?} waiting for {what}; the page said:\n{text}"
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the feed's actions are `expected`, top to bottom.
    pub async fn wait_for_feed(&self, expected: &[&str]) -> TestResult {
        let what = format!("the feed to show {expected:?}");
        self.wait_for(&what, Duration::from_secs(5), || async {
            let actions = self.feed_actions().await?;
            Ok((actions == expected).then_some(()))
        })
        .await
    }
}
