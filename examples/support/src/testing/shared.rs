//! Two processes of one example on one store: a session started through one is read and
//! updated through the other.

use serde_json::json;

use super::{Client, Server, test_key};

/// Runs the two-process scenario for `bin` on `store_url`. `unreachable` explains how to
/// provide the service, and is shown when a process cannot start.
pub async fn two_processes_share_one_store(bin: &str, store_url: &str, unreachable: &str) {
    let keys = test_key();
    let start = || async {
        Server::spawn(bin, store_url, &keys)
            .await
            .unwrap_or_else(|e| panic!("{unreachable}\n{e}"))
    };
    let (a, b) = (start().await, start().await);
    let on_a = Client::new(a.base());
    let on_b = on_a.at(b.base());
    let user = format!("user-{}", &test_key()[..8]);

    on_a.post_json("/api/login", &json!({ "user": user }))
        .await
        .expect(200);
    assert_eq!(
        on_a.post("/api/count").await.expect(200).json(),
        json!({"count": 1})
    );
    assert_eq!(
        on_b.get("/api/me").await.expect(200).json(),
        json!({"user": user, "count": 1}),
        "B reads the session A created"
    );
    assert_eq!(
        on_b.post("/api/count").await.expect(200).json(),
        json!({"count": 2})
    );
    on_b.put_json("/api/data/from-b", &json!({"n": 1}))
        .await
        .expect(200);
    assert_eq!(
        on_a.get("/api/me").await.expect(200).json(),
        json!({"user": user, "count": 2}),
        "A sees B's update"
    );
    assert_eq!(
        on_a.get("/api/data/from-b").await.expect(200).json(),
        json!({"n": 1})
    );
    let list = on_b.get("/api/sessions").await.expect(200).json();
    assert_eq!(list["sessions"].as_array().map(Vec::len), Some(1), "{list}");

    let cookie = on_a.cookie();
    on_a.post("/api/logout").await.expect(200);
    let stale = Client::new(b.base());
    stale.set_cookie(cookie);
    assert_eq!(
        stale.get("/api/me").await.expect(200).json(),
        json!({"user": null, "count": 0}),
        "a logout through A ends the session on B"
    );
}
