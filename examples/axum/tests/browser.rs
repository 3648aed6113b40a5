//! A headless Chromium (Debian packages `chromium` and `chromium-driver`) uses the axum
//! example like a person would: no JavaScript, only forms. Fails, never skips, when the
//! browser or its driver is missing.

use std::path::PathBuf;

use example_support::testing::browser::Browser;
use example_support::testing::{Backend, Server};

/// `<target dir>/browser/<name>`: the test's output directory for screenshots.
fn output_path(name: &str) -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let target = tmp.parent().map(PathBuf::from).unwrap_or(tmp);
    target.join("browser").join(name)
}

/// `<target dir>/browser/axum-logged-in.png`.
fn screenshot_path() -> PathBuf {
    output_path("axum-logged-in.png")
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

/// Issue 12's account page: one user signs in from two browser profiles (two chromedriver
/// sessions), the first sees both sessions (label, signed in, last seen), signs the other
/// out with its button, and the second is signed out on reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_one_signs_the_other_out() {
    let server = Server::start(env!("CARGO_BIN_EXE_example-axum"), Backend::Sqlite).await;
    let (first, second) = (Browser::start().await, Browser::start().await);
    for browser in [&first, &second] {
        browser.goto(&format!("{}/", server.base())).await;
        browser.type_into("#user-input", "Grace").await;
        browser.click("#login").await;
        browser.wait_text("#user", "Grace").await;
    }
    first.refresh().await;
    first.wait_count("#sessions li", 2).await;
    let listed = first.text("#sessions").await;
    assert!(listed.contains("(this browser)"), "{listed}");
    assert!(
        listed.contains("Headless Chrome on Linux"),
        "the label: {listed}"
    );
    assert!(listed.contains("last seen"), "{listed}");
    first.wait_count(".revoke-session", 1).await;

    let blank = output_path("blank.png");
    first.goto("about:blank").await;
    first.screenshot(&blank).await;
    first.goto(&format!("{}/", server.base())).await;
    first.wait_count("#sessions li", 2).await;
    let shot = output_path("axum-account-page.png");
    first.screenshot(&shot).await;
    Browser::assert_rendered(&shot, &blank);

    first.click(".revoke-session").await;
    first.wait_count("#sessions li", 1).await;
    assert!(!first.exists(".revoke-session").await);
    second.refresh().await;
    second.wait_for("#login-form").await;
    assert!(
        !second.exists("#user").await,
        "the second browser is signed out"
    );
    first.refresh().await;
    first.wait_text("#user", "Grace").await;
    first.quit().await;
    second.quit().await;
}
