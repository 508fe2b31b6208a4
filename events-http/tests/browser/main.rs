//! The activity console in a real browser: headless Chromium driven through
//! ChromeDriver (fantoccini), against a real server on 127.0.0.1 over a real
//! database (a fresh one per test, `#[sqlx::test]`), mounted under a path as
//! an application would (`/admin/activity`).
//!
//! What it shows:
//! - the feed opens, and the filter form narrows it (`feed`);
//! - keyset pages go forward and back, by links and by the browser's history
//!   (`paging`);
//! - a record's history shows each change as old → new values (`history`);
//! - an entry written after the page opened appears in it, without a reload,
//!   within two seconds (`live`);
//! - script payloads in data, metadata, actor, action and resource are shown
//!   as text and never run, on every page and in live rows (`xss`).
//!
//! The tests need `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian:
//! `apt-get install chromium chromium-driver`) and fail saying so without
//! them. `screenshot` (ignored) refreshes `docs/console.png` from a running
//! `cargo run --example console`.

mod app;
mod browser;
mod feed;
mod history;
mod live;
mod pages;
mod paging;
mod screenshot;
mod server;
mod xss;

/// What every test returns.
pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;
