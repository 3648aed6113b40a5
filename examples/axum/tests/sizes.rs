//! Sizes against the real `example-axum` binary: hostile Cookie headers (over 4 KiB, a
//! hundred cookies, non-UTF-8 bytes) get a fresh session and never a 5xx, and a session
//! payload over the 64 KiB limit is a 413 that stores nothing.

mod raw_store;

use example_support::testing::Client;
use raw_store::{BIN, Kind, expected_store_key};
use serde_json::json;

example_support::cookie_header_tests!(BIN, a_genuine_cookie_beside_non_utf8_bytes_is_found);

/// `PUT /api/data/big` over the limit answers 413 (`SessionError::TooLarge`), and the
/// SQLite file shows nothing was written: no row for a client without a session, an
/// unchanged row for one with a session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_payload_is_413_and_stores_nothing() {
    let setup = Kind::Sqlite.start(&[]).await;
    let big = json!({ "blob": "x".repeat(70 * 1024) });

    let newcomer = Client::new(setup.app.base());
    newcomer
        .put_json("/api/data/big", &big)
        .await
        .expect(413)
        .expect_no_cookie();
    assert_eq!(setup.raw.count_rows().await, 0, "a row was created");

    let client = Client::new(setup.app.base());
    client
        .put_json("/api/data/small", &json!(1))
        .await
        .expect(200);
    let key = expected_store_key(&client.cookie().unwrap_or_else(|| panic!("no cookie")));
    let before = setup.raw.dump(&key).await;
    client
        .put_json("/api/data/big", &big)
        .await
        .expect(413)
        .expect_no_cookie();
    assert_eq!(setup.raw.dump(&key).await, before, "the row changed");
    client.get("/api/data/big").await.expect(404);
    assert_eq!(
        client.get("/api/data/small").await.expect(200).json(),
        json!(1)
    );
    assert_eq!(setup.raw.count_rows().await, 1);
}
