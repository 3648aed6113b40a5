//! One user with 100,000 sessions (`SCALE_SESSIONS` to change it) on Redis: the account
//! page's listing and "log out everywhere else", timed and printed. A measurement, so
//! `#[ignore]`d: run it with `cargo test -p store-redis --test scale -- --ignored --nocapture`.

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by hand with --ignored --nocapture"]
async fn many_sessions_of_one_user_standalone() {
    let store = common::standalone().await;
    let report = session_core::test_suite::scale::many_sessions_of_one_user(
        &store,
        session_core::test_suite::scale::scale_from_env(),
    )
    .await;
    eprintln!("Redis: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by hand with --ignored --nocapture"]
async fn many_sessions_of_one_user_cluster() {
    let store = common::cluster().await;
    let n = session_core::test_suite::scale::scale_from_env();
    let report = session_core::test_suite::scale::many_sessions_of_one_user(&store, n).await;
    eprintln!("Redis Cluster: {report}");
}
