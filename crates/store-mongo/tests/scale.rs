//! One user with 100,000 sessions (`SCALE_SESSIONS` to change it) on MongoDB: the account
//! page's listing and "log out everywhere else", timed and printed. A measurement, so
//! `#[ignore]`d: run it with `cargo test -p store-mongo --test scale -- --ignored --nocapture`.

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by hand with --ignored --nocapture"]
async fn many_sessions_of_one_user() {
    let store = common::make_store().await;
    let report = session_core::test_suite::scale::many_sessions_of_one_user(
        &store,
        session_core::test_suite::scale::scale_from_env(),
    )
    .await;
    eprintln!("MongoDB: {report}");
}
