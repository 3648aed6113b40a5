//! Two managers on one app (`/s/` unmarked, `/m/` marked `Second`), each with its own key,
//! cookie and store: neither sees the other's data, cookies or tokens.

use session_core::MemoryStore;
use session_core::Transport;
use session_core::test_suite::{ProbeStore, SessionId};

use super::defaults;
use crate::{COOKIE_NAME, Harness, SECOND_COOKIE_NAME, Spawn};

fn second(harness: &Harness) -> &ProbeStore<MemoryStore> {
    &harness
        .second
        .as_ref()
        .expect("a scenario with two managers")
        .0
}

fn reset_both(harness: &Harness) {
    harness.reset();
    second(harness).reset();
}

/// `Cookie: sid=<first>; admin=<second>`.
fn both(first: &str, second: &str) -> Vec<u8> {
    format!("{COOKIE_NAME}={first}; {SECOND_COOKIE_NAME}={second}").into_bytes()
}

/// Each manager writes only its own cookie and store, reads only its own cookie, rotates
/// and destroys only its own session.
pub async fn two_managers_keep_their_data_and_cookies_apart(spawn: Spawn) {
    let h = Harness::pair(spawn, defaults, defaults).await;

    let answer = h.get("/s/set/k/first").await;
    assert_eq!(answer.status, 200);
    assert!(
        answer.cookie_named(SECOND_COOKIE_NAME).is_none(),
        "no second cookie"
    );
    let first = answer.cookie_value();
    assert_eq!(
        second(&h).calls().total(),
        0,
        "the second store is untouched"
    );

    reset_both(&h);
    let answer = h.get_as("/m/set/k/second", &first).await;
    assert_eq!(answer.status, 200);
    assert!(
        answer.session_cookie().is_none(),
        "the first cookie is not re-set"
    );
    let admin = answer
        .cookie_named(SECOND_COOKIE_NAME)
        .expect("the second session's cookie")
        .value()
        .to_owned();
    assert_ne!(admin, first);
    assert_eq!(h.calls().total(), 0, "the first session was not touched");
    assert_eq!(second(&h).calls().create, 1);

    let cookies = both(&first, &admin);
    assert_eq!(h.get_with("/s/get/k", &[&cookies]).await.body, "\"first\"");
    assert_eq!(h.get_with("/m/get/k", &[&cookies]).await.body, "\"second\"");

    // The first session's cookie, presented under the second's name: signed with another
    // key, so refused before the second store is asked.
    reset_both(&h);
    let swapped = format!("{SECOND_COOKIE_NAME}={first}");
    let answer = h.get_with("/m/get/k", &[swapped.as_bytes()]).await;
    assert_eq!(answer.body, "null");
    assert_eq!(
        second(&h).calls().total(),
        0,
        "a foreign cookie never reaches the store"
    );

    // Signing in on the second rotates its id only; the first stays anonymous.
    let answer = h.get_with("/m/login/alice", &[&cookies]).await;
    assert_eq!(answer.status, 200);
    assert!(
        answer.session_cookie().is_none(),
        "the first id does not rotate"
    );
    let admin = answer
        .cookie_named(SECOND_COOKIE_NAME)
        .expect("a rotated second cookie")
        .value()
        .to_owned();
    let cookies = both(&first, &admin);
    assert_eq!(h.get_with("/s/user", &[&cookies]).await.body, "");
    assert_eq!(h.get_with("/m/user", &[&cookies]).await.body, "alice");

    // Destroying the first expires its cookie only.
    let answer = h.get_with("/s/destroy", &[&cookies]).await;
    assert!(answer.expires_cookie(), "the first cookie expires");
    assert!(answer.cookie_named(SECOND_COOKIE_NAME).is_none());
    assert!(!h.stored(&first).await);
    assert_eq!(h.get_with("/m/get/k", &[&cookies]).await.body, "\"second\"");
}

/// One handler takes both extractors: it reads the first session and writes the second.
pub async fn one_handler_uses_both_sessions(spawn: Spawn) {
    let h = Harness::pair(spawn, defaults, defaults).await;
    let first = h.new_session("k", "shared").await;
    reset_both(&h);

    let answer = h.get_as("/both/copy/k", &first).await;
    assert_eq!(answer.status, 200, "body {:?}", answer.body);
    assert!(answer.session_cookie().is_none(), "the first was only read");
    let admin = answer
        .cookie_named(SECOND_COOKIE_NAME)
        .expect("the second session was created")
        .value()
        .to_owned();
    assert_eq!(h.calls().load, 1);
    assert_eq!(h.calls().total(), 1, "the first store only loaded");
    assert_eq!(second(&h).calls().create, 1);
    let cookie = format!("{SECOND_COOKIE_NAME}={admin}");
    let answer = h.get_with("/m/get/k", &[cookie.as_bytes()]).await;
    assert_eq!(answer.body, "\"shared\"");
}

/// Two managers reading one cookie name would adopt each other's ids: every request is
/// refused with a 500 before either store is asked.
pub async fn managers_sharing_a_cookie_name_are_refused(spawn: Spawn) {
    let h = Harness::pair(spawn, defaults, |b| b.cookie_name(COOKIE_NAME)).await;
    for path in ["/s/set/k/v", "/m/set/k/v", "/plain"] {
        let answer = h.get(path).await;
        answer.assert_no_cookie(500);
    }
    // A validly signed cookie would be loaded by either manager alone.
    let planted = h.codec().encode(&SessionId::generate());
    let answer = h.get_as("/s/get/k", &planted).await;
    answer.assert_no_cookie(500);
    assert_eq!(h.calls().total(), 0);
    assert_eq!(second(&h).calls().total(), 0);
}

/// A browser session by cookie and an API session by header on one app: the token reaches
/// only the header manager, the cookie only the cookie manager.
pub async fn a_cookie_manager_and_a_header_manager_share_requests(spawn: Spawn) {
    let h = Harness::pair(spawn, defaults, |b| b.transport(Transport::Header)).await;
    let answer = h.get("/m/set/k/api").await;
    assert_eq!(answer.status, 200);
    assert!(answer.session_cookie().is_none() && answer.cookie_named(SECOND_COOKIE_NAME).is_none());
    let token = answer.token_value();

    let first = h.new_session("k", "browser").await;
    reset_both(&h);
    let bearer = format!("Bearer {token}");
    let cookie = format!("{COOKIE_NAME}={first}");
    let headers = [
        ("authorization", bearer.as_bytes()),
        ("cookie", cookie.as_bytes()),
    ];
    assert_eq!(
        h.get_with_headers("/m/get/k", &headers).await.body,
        "\"api\""
    );
    assert_eq!(
        h.get_with_headers("/s/get/k", &headers).await.body,
        "\"browser\""
    );
    assert_eq!((h.calls().load, second(&h).calls().load), (1, 1));

    // A token alone is nothing to the cookie manager.
    reset_both(&h);
    let answer = h.get_bearer("/s/get/k", &token).await;
    assert_eq!(answer.body, "null");
    assert_eq!(h.calls().total(), 0);
}
