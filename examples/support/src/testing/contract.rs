//! The HTTP contract every example serves, as one scenario list. Each scenario gets a
//! fresh server (see `contract_tests!`).

use serde_json::json;

use super::{Client, Server};

/// `GET /health` answers `ok` and never issues a cookie, whatever the client sends.
pub async fn health_is_ok_and_never_touches_the_session(server: &Server) {
    let client = Client::new(server.base());
    let answer = client.get("/health").await;
    answer.expect(200).expect_no_cookie();
    assert_eq!(answer.body, "ok");
    client.set_cookie(Some("forged.value".into()));
    client.get("/health").await.expect(200).expect_no_cookie();
}

/// An anonymous visitor gets the login form and an empty `/api/me`, and no cookie.
pub async fn anonymous_requests_store_nothing(server: &Server) {
    let client = Client::new(server.base());
    let me = client.get("/api/me").await;
    me.expect(200).expect_no_cookie();
    assert_eq!(me.json(), json!({"user": null, "count": 0}));
    let page = client.get("/").await;
    page.expect(200).expect_no_cookie();
    assert!(
        page.header("content-type")
            .is_some_and(|ct| ct.starts_with("text/html")),
        "content type {:?}",
        page.header("content-type")
    );
    assert!(page.body.contains("action=\"/api/login\"") && page.body.contains("name=\"user\""));
    assert!(!page.body.contains("/api/logout"));
}

/// `POST /api/count` increments, the first one starts the session.
pub async fn the_counter_counts(server: &Server) {
    let client = Client::new(server.base());
    let first = client.post("/api/count").await;
    first.expect(200);
    assert!(
        first.session_cookie().is_some(),
        "the first write sets the cookie"
    );
    assert_eq!(first.json(), json!({"count": 1}));
    for n in 2..=3 {
        assert_eq!(
            client.post("/api/count").await.expect(200).json(),
            json!({"count": n})
        );
    }
    let me = client.get("/api/me").await;
    assert_eq!(me.expect(200).json(), json!({"user": null, "count": 3}));
}

/// Reading the session writes nothing back.
pub async fn me_is_read_only(server: &Server) {
    let client = Client::new(server.base());
    client.post("/api/count").await.expect(200);
    for _ in 0..2 {
        let me = client.get("/api/me").await;
        me.expect(200).expect_no_cookie();
        assert_eq!(me.json()["count"], 1);
    }
    client.get("/").await.expect(200).expect_no_cookie();
}

/// A JSON login moves the session to a new id, keeps its data and kills the old id.
pub async fn json_login_regenerates_and_keeps_the_data(server: &Server) {
    let client = Client::new(server.base());
    client.post("/api/count").await.expect(200);
    let before = client.cookie().expect("a session cookie");
    let login = client
        .post_json("/api/login", &json!({"user": "ada"}))
        .await;
    assert_eq!(login.expect(200).json(), json!({"user": "ada"}));
    let after = client.cookie().expect("a session cookie after login");
    assert_ne!(before, after, "login must change the session id");
    let me = client.get("/api/me").await;
    assert_eq!(me.expect(200).json(), json!({"user": "ada", "count": 1}));
    let old = Client::new(server.base());
    old.set_cookie(Some(before));
    let stale = old.get("/api/me").await;
    assert_eq!(stale.expect(200).json(), json!({"user": null, "count": 0}));
}

/// A form login answers 303 to `/`, which then shows the user, counter and buttons.
pub async fn form_login_redirects_to_the_signed_in_page(server: &Server) {
    let client = Client::new(server.base());
    client
        .post_form("/api/login", &[("user", "Bob <script>")])
        .await
        .expect_redirect_home();
    assert!(client.cookie().is_some(), "a form login sets the cookie");
    let page = client.get("/").await;
    let html = &page.expect(200).body;
    assert!(
        html.contains("Bob &lt;script&gt;"),
        "user shown, escaped: {html}"
    );
    assert!(!html.contains("Bob <script>"));
    for needle in [
        "id=\"count\">0<",
        "action=\"/api/count\"",
        "action=\"/api/logout\"",
        "action=\"/api/sessions/revoke-others\"",
        "(this browser)",
    ] {
        assert!(html.contains(needle), "page lacks {needle:?}: {html}");
    }
    assert!(!html.contains("action=\"/api/login\""));
}

/// Empty, blank, missing or malformed names are a 400 that stores nothing.
pub async fn login_needs_a_name(server: &Server) {
    let client = Client::new(server.base());
    for body in [
        json!({"user": ""}),
        json!({"user": "   "}),
        json!({}),
        json!({"user": 7}),
    ] {
        let answer = client.post_json("/api/login", &body).await;
        answer.expect(400).expect_no_cookie();
    }
    client
        .post_form("/api/login", &[("user", "")])
        .await
        .expect(400)
        .expect_no_cookie();
    client
        .post_form("/api/login", &[])
        .await
        .expect(400)
        .expect_no_cookie();
    client
        .post_raw("/api/login", "{not json", "application/json")
        .await
        .expect(400)
        .expect_no_cookie();
    let me = client.get("/api/me").await;
    assert_eq!(me.expect(200).json(), json!({"user": null, "count": 0}));
}

/// Form posts of the page's buttons are answered with a 303 to `/` (no JavaScript).
pub async fn form_posts_redirect_home(server: &Server) {
    let client = Client::new(server.base());
    client
        .post_form("/api/login", &[("user", "cy")])
        .await
        .expect_redirect_home();
    client
        .post_form("/api/count", &[])
        .await
        .expect_redirect_home();
    client
        .post_form("/api/count", &[])
        .await
        .expect_redirect_home();
    assert_eq!(
        client.get("/api/me").await.json(),
        json!({"user": "cy", "count": 2})
    );
    client
        .post_form("/api/sessions/revoke-others", &[])
        .await
        .expect_redirect_home();
    client
        .post_form("/api/logout", &[])
        .await
        .expect_redirect_home();
    assert_eq!(client.cookie(), None, "logout expires the cookie");
    assert!(client.get("/").await.body.contains("action=\"/api/login\""));
}

/// Logout deletes the stored session: the old cookie no longer works.
pub async fn logout_destroys_the_session(server: &Server) {
    let client = Client::new(server.base());
    client
        .post_json("/api/login", &json!({"user": "dee"}))
        .await
        .expect(200);
    client.post("/api/count").await.expect(200);
    let cookie = client.cookie().expect("signed in");
    let out = client.post("/api/logout").await;
    assert_eq!(out.expect(200).json(), json!({"user": null}));
    let expired = out.session_cookie().expect("logout expires the cookie");
    assert!(
        expired.value().is_empty() || expired.max_age().is_some_and(|a| a.is_zero()),
        "not an expiring cookie: {expired}"
    );
    let replay = Client::new(server.base());
    replay.set_cookie(Some(cookie));
    let me = replay.get("/api/me").await;
    assert_eq!(me.expect(200).json(), json!({"user": null, "count": 0}));
    replay.get("/api/sessions").await.expect(401);
}

/// `PUT`, `GET`, `DELETE /api/data/{key}` store, read and remove any JSON value.
pub async fn data_round_trips(server: &Server) {
    let client = Client::new(server.base());
    client.get("/api/data/profile").await.expect(404);
    let value = json!({"theme": "dark", "tags": [1, 2.5, "x"], "none": null});
    let put = client.put_json("/api/data/profile", &value).await;
    assert_eq!(put.expect(200).json(), value);
    assert_eq!(
        client.get("/api/data/profile").await.expect(200).json(),
        value
    );
    client
        .put_json("/api/data/flag", &json!(true))
        .await
        .expect(200);
    assert_eq!(
        client.get("/api/data/flag").await.expect(200).json(),
        json!(true)
    );
    client.delete("/api/data/profile").await.expect(204);
    client.get("/api/data/profile").await.expect(404);
    client.delete("/api/data/profile").await.expect(204);
    assert_eq!(
        client.get("/api/data/flag").await.expect(200).json(),
        json!(true)
    );
}

/// Odd keys round-trip, and a data key named like the app's own does not clash with it.
pub async fn data_keys_are_kept_apart_from_the_app(server: &Server) {
    let client = Client::new(server.base());
    client
        .put_json("/api/data/count", &json!("not a number"))
        .await
        .expect(200);
    assert_eq!(
        client.post("/api/count").await.expect(200).json(),
        json!({"count": 1})
    );
    for key in ["a.b", "$where", "x%20y"] {
        let value = json!({ "key": key });
        client
            .put_json(&format!("/api/data/{key}"), &value)
            .await
            .expect(200);
        let got = client.get(&format!("/api/data/{key}")).await;
        assert_eq!(got.expect(200).json(), value, "key {key}");
    }
    let count = client.get("/api/data/count").await;
    assert_eq!(count.expect(200).json(), json!("not a number"));
}

/// A value over the session size limit is a 413 and nothing is stored.
pub async fn oversized_data_is_413_and_changes_nothing(server: &Server) {
    let client = Client::new(server.base());
    client
        .put_json("/api/data/small", &json!(1))
        .await
        .expect(200);
    let big = json!("x".repeat(70 * 1024));
    client.put_json("/api/data/big", &big).await.expect(413);
    client.get("/api/data/big").await.expect(404);
    assert_eq!(
        client.get("/api/data/small").await.expect(200).json(),
        json!(1)
    );
}

/// Anonymous visitors cannot list or revoke sessions.
pub async fn sessions_need_a_signed_in_user(server: &Server) {
    let client = Client::new(server.base());
    client.get("/api/sessions").await.expect(401);
    client.post("/api/sessions/revoke-others").await.expect(401);
    client.post("/api/count").await.expect(200);
    client.get("/api/sessions").await.expect(401);
    client.post("/api/sessions/revoke-others").await.expect(401);
}

/// A user's sessions are listed with the current one marked; revoking the others signs
/// the other clients out at once.
pub async fn sessions_are_listed_and_others_revoked(server: &Server) {
    let (laptop, phone) = (Client::new(server.base()), Client::new(server.base()));
    for client in [&laptop, &phone] {
        client
            .post_json("/api/login", &json!({"user": "eve"}))
            .await
            .expect(200);
    }
    let list = laptop.get("/api/sessions").await.expect(200).json();
    assert_eq!(list["user"], "eve");
    let sessions = list["sessions"].as_array().expect("a sessions array");
    assert_eq!(sessions.len(), 2, "{list}");
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "exactly one current session: {list}");
    for s in sessions {
        assert!(s["id"].is_string() && s["created_at"].is_i64() && s["expires_at"].is_i64());
    }
    let revoked = laptop.post("/api/sessions/revoke-others").await;
    assert_eq!(revoked.expect(200).json(), json!({"revoked": 1}));
    assert_eq!(
        phone.get("/api/me").await.json(),
        json!({"user": null, "count": 0})
    );
    assert_eq!(laptop.get("/api/me").await.json()["user"], "eve");
    let list = laptop.get("/api/sessions").await.expect(200).json();
    assert_eq!(list["sessions"].as_array().map(Vec::len), Some(1));
}

/// The account page's per-session sign-out: by the session's public handle (never its
/// cookie id), only by its own user (another user's handle is a 404), at once.
pub async fn a_session_is_signed_out_by_its_handle_only_by_its_user(server: &Server) {
    let clients: Vec<Client> = (0..3).map(|_| Client::new(server.base())).collect();
    let [laptop, phone, mallory] = &clients[..] else {
        unreachable!("three clients")
    };
    for (client, user) in [(laptop, "eve"), (phone, "eve"), (mallory, "mallory")] {
        client
            .post_json("/api/login", &json!({"user": user}))
            .await
            .expect(200);
    }
    let list = laptop.get("/api/sessions").await.expect(200).json();
    let sessions = list["sessions"]
        .as_array()
        .expect("a sessions array")
        .clone();
    assert_eq!(sessions.len(), 2, "{list}");
    for s in &sessions {
        assert!(s["label"].is_string() && s["last_seen"].is_i64(), "{s}");
        let id = s["id"].as_str().expect("an id");
        for client in [laptop, phone] {
            let cookie = client.cookie().expect("signed in");
            assert!(
                !id.contains(&cookie) && !cookie.contains(id),
                "a handle is no cookie"
            );
        }
    }
    let other = sessions
        .iter()
        .find(|s| s["current"] == false)
        .and_then(|s| s["id"].as_str())
        .expect("the phone's session")
        .to_owned();
    let path = format!("/api/sessions/{other}/revoke");
    mallory.post(&path).await.expect(404);
    assert_eq!(phone.get("/api/me").await.json()["user"], "eve", "refused");
    laptop
        .post("/api/sessions/not-a-handle/revoke")
        .await
        .expect(404);
    let revoked = laptop.post(&path).await;
    assert_eq!(revoked.expect(200).json(), json!({"revoked": 1}));
    assert_eq!(
        phone.get("/api/me").await.json(),
        json!({"user": null, "count": 0})
    );
    laptop.post(&path).await.expect(404);
    let list = laptop.get("/api/sessions").await.expect(200).json();
    assert_eq!(list["sessions"].as_array().map(Vec::len), Some(1));
}

/// The login form posted from another site (login CSRF) is a 403 with no cookie; the
/// same form posted from the page itself signs in.
pub async fn a_cross_site_login_form_is_refused(server: &Server) {
    let client = Client::new(server.base());
    let fields = [("user", "victim")];
    for headers in [
        &[
            ("Origin", "https://evil.example"),
            ("Sec-Fetch-Site", "cross-site"),
        ][..],
        &[("Sec-Fetch-Site", "cross-site")][..],
    ] {
        let answer = client.post_form_with("/api/login", &fields, headers).await;
        answer.expect(403).expect_no_cookie();
    }
    assert_eq!(client.get("/api/me").await.json()["user"], json!(null));
    let own = [("Origin", server.base()), ("Sec-Fetch-Site", "same-origin")];
    let answer = client.post_form_with("/api/login", &fields, &own).await;
    answer.expect_redirect_home();
    assert_eq!(client.get("/api/me").await.json()["user"], "victim");
}

/// Routes outside the contract are 404.
pub async fn unknown_routes_are_404(server: &Server) {
    let client = Client::new(server.base());
    client.get("/api/nope").await.expect(404).expect_no_cookie();
}
