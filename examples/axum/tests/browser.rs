//! A headless Chromium (Debian packages `chromium` and `chromium-driver`) uses the axum
//! example like a person would: no JavaScript, only forms. Fails, never skips, when the
//! browser or its driver is missing.

use std::path::PathBuf;

use example_support::testing::browser::Browser;
use example_support::testing::{Backend, Server};

/// `<target dir>/browser/axum-logged-in.png`.
fn screenshot_path() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let target = tmp.parent().map(PathBuf::from).unwrap_or(tmp);
    target.join("browser").join("axum-logged-in.png")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_count_reload_sign_out() {
    let server = Server::start(env!("CARGO_BIN_EXE_example-axum"), Backend::Sqlite).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/", server.base())).await;

    browser.type_into("#user-input", "Ada").await;
    browser.click("#login").await;
    browser.wait_text("#user", "Ada").await;
    browser.wait_text("#count", "0").await;

    browser.click("#increment").await;
    browser.wait_text("#count", "1").await;
    browser.click("#increment").await;
    browser.wait_text("#count", "2").await;

    browser.refresh().await;
    browser.wait_text("#count", "2").await;
    assert!(browser.text("#sessions").await.contains("(this browser)"));
    let shot = screenshot_path();
    browser.screenshot(&shot).await;
    assert!(
        std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000),
        "screenshot at {shot:?}"
    );

    browser.click("#logout").await;
    browser.wait_for("#login-form").await;
    assert!(!browser.exists("#user").await, "signed out");
    browser.quit().await;
}
