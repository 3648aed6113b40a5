//! Hostile, broken and unusual Cookie headers; key rotation; private mode.

use session_core::{
    CookieMode, Key,
    test_suite::{CookieCodec, SessionId},
};

use super::{defaults, flip};
use crate::{COOKIE_NAME, Harness, Spawn, signed_id};

/// A cookie whose signature was altered: a fresh session, no store call, new id.
pub async fn tampered_signature_is_rejected_without_a_store_call(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.new_session("a", "1").await;
    for tampered in [flip(&sid, 50), flip(&sid, 0)] {
        h.reset();
        let answer = h.get_as("/s/get/a", &tampered).await;
        answer.assert_no_cookie(200);
        assert_eq!(answer.body, "null");
        assert_eq!(h.calls().total(), 0, "a bad signature reached the store");
        let fresh = h.get_as("/s/set/a/2", &tampered).await.cookie_value();
        assert_ne!(signed_id(&fresh), signed_id(&sid));
        assert_ne!(signed_id(&fresh), signed_id(&tampered));
        assert_eq!((h.calls().load, h.calls().create), (0, 1));
    }
    assert_eq!(h.get_as("/s/get/a", &sid).await.body, "\"1\"");
}

/// A real session id signed with a key the server does not have is refused unread.
pub async fn foreign_key_cookie_is_rejected_without_a_store_call(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.new_session("a", "1").await;
    let foreign = CookieCodec::new(COOKIE_NAME, CookieMode::Signed, vec![Key::generate()])
        .expect("codec")
        .encode(&signed_id(&sid));
    h.reset();
    assert_eq!(h.get_as("/s/get/a", &foreign).await.body, "null");
    assert_eq!(h.calls().total(), 0);
}

/// A validly signed cookie for an id the store does not know is never adopted.
pub async fn unknown_id_is_never_adopted(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let planted = h.codec().encode(&SessionId::generate());
    let issued = h.get_as("/s/set/a/1", &planted).await.cookie_value();
    assert_ne!(signed_id(&issued), signed_id(&planted));
    assert_eq!((h.calls().load, h.calls().create), (1, 1));
    assert!(!h.stored(&planted).await, "the client's id was adopted");
    assert!(h.stored(&issued).await);
}

/// Values of the wrong shape are dropped before any store call.
pub async fn malformed_cookies_never_reach_the_store(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.new_session("a", "1").await;
    let long = "x".repeat(300);
    let malformed = [
        "",
        "x",
        "a.b",
        ".",
        "%00%ff",
        "\"quoted\"",
        &long,
        &sid[..sid.len() - 1],
        &format!("{sid}x"),
        &sid.replace('.', "-"),
    ];
    h.reset();
    for value in malformed {
        let answer = h.get_as("/s/get/a", value).await;
        answer.assert_no_cookie(200);
        assert_eq!(answer.body, "null", "{value:?} was accepted");
    }
    assert_eq!(h.calls().total(), 0, "{:?}", h.calls());
}

/// Several Cookie headers: the session cookie is found whichever header holds it.
pub async fn duplicate_cookie_headers_find_the_valid_session(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.new_session("a", "1").await;
    let valid = format!("{COOKIE_NAME}={sid}");
    let forged = format!("{COOKIE_NAME}={}", flip(&sid, 50));
    let orders: [[&[u8]; 2]; 3] = [
        [forged.as_bytes(), valid.as_bytes()],
        [valid.as_bytes(), forged.as_bytes()],
        [b"theme=dark", valid.as_bytes()],
    ];
    for headers in orders {
        assert_eq!(h.get_with("/s/get/a", &headers).await.body, "\"1\"");
    }
}

/// Same-named cookies in one header (other paths or domains): the valid one wins.
pub async fn same_named_cookies_in_one_header_find_the_valid_session(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.new_session("a", "1").await;
    let headers = [
        format!("{COOKIE_NAME}=garbage; {COOKIE_NAME}={sid}"),
        format!("{COOKIE_NAME}={}; {COOKIE_NAME}={sid}", flip(&sid, 50)),
        format!("{COOKIE_NAME}={sid}; {COOKIE_NAME}=garbage"),
    ];
    for header in headers {
        assert_eq!(
            h.get_with("/s/get/a", &[header.as_bytes()]).await.body,
            "\"1\""
        );
    }
}

/// A 5 KiB Cookie header is scanned; past the scan budget the session is not looked
/// for; nothing is ever a 500.
pub async fn oversized_cookie_header_is_bounded_and_never_500(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.new_session("a", "1").await;
    let big = format!("pad={}; {COOKIE_NAME}={sid}", "p".repeat(5 * 1024));
    assert_eq!(
        h.get_with("/s/get/a", &[big.as_bytes()]).await.body,
        "\"1\""
    );

    h.reset();
    let beyond = format!("pad={}; {COOKIE_NAME}={sid}", "p".repeat(9 * 1024));
    let answer = h.get_with("/s/get/a", &[beyond.as_bytes()]).await;
    answer.assert_no_cookie(200);
    assert_eq!(answer.body, "null");
    let huge_value = format!("{COOKIE_NAME}={}", "v".repeat(5 * 1024));
    h.get_with("/s/get/a", &[huge_value.as_bytes()])
        .await
        .assert_no_cookie(200);
    assert_eq!(h.calls().total(), 0);
}

/// A hundred cookies in the header: the session cookie is still found.
pub async fn hundred_cookies_still_find_the_session(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.new_session("a", "1").await;
    let mut pairs: Vec<String> = (0..100).map(|i| format!("c{i}=v{i}")).collect();
    pairs.push(format!("{COOKIE_NAME}={sid}"));
    let header = pairs.join("; ");
    assert_eq!(
        h.get_with("/s/get/a", &[header.as_bytes()]).await.body,
        "\"1\""
    );
}

/// Non-UTF-8 bytes in Cookie headers are survived. Beside the session cookie's header
/// they do not hide it; inside it, frameworks differ (Rocket drops such headers), so
/// only "no 500" is asserted there.
pub async fn non_utf8_cookie_bytes_never_500(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.new_session("a", "1").await;
    let valid = format!("{COOKIE_NAME}={sid}");
    let junk: &[u8] = b"junk=\xff\xfe\x80; \xc3\x28=1";
    assert_eq!(
        h.get_with("/s/get/a", &[junk, valid.as_bytes()]).await.body,
        "\"1\""
    );

    let mut mixed = junk.to_vec();
    mixed.extend_from_slice(b"; ");
    mixed.extend_from_slice(valid.as_bytes());
    assert_eq!(h.get_with("/s/get/a", &[&mixed]).await.status, 200);
    h.reset();
    let bad_value: &[u8] = b"sid=\xff\xff\xff";
    let answer = h.get_with("/s/get/a", &[bad_value]).await;
    answer.assert_no_cookie(200);
    assert_eq!(h.calls().total(), 0);
}

/// A cookie signed by an older key is accepted and re-issued under the newest key.
pub async fn rotated_key_cookie_is_accepted_and_reissued(spawn: Spawn) {
    let (old, new) = (Key::generate(), Key::generate());
    let h = Harness::with_keys(spawn, vec![new, old.clone()], defaults).await;
    let current = h.new_session("a", "1").await;
    let by_old_key = CookieCodec::new(COOKIE_NAME, CookieMode::Signed, vec![old])
        .expect("codec")
        .encode(&signed_id(&current));
    assert_ne!(by_old_key, current);
    h.reset();
    let answer = h.get_as("/s/get/a", &by_old_key).await;
    assert_eq!(answer.body, "\"1\"");
    assert_eq!(
        answer.cookie_value(),
        current,
        "re-issued under the newest key"
    );
    assert_eq!(h.calls().writes(), 0);
    h.get_as("/s/get/a", &current).await.assert_no_cookie(200);
}

/// Private (encrypted) cookies: opaque values that round-trip and resist tampering.
pub async fn private_cookie_mode_round_trips_and_hides_the_id(spawn: Spawn) {
    let h = Harness::start(spawn, |b| b.mode(CookieMode::Private)).await;
    let sid = h.new_session("a", "1").await;
    assert!(!sid.contains('.'), "not the signed shape: {sid}");
    assert_eq!(h.get_as("/s/get/a", &sid).await.body, "\"1\"");
    h.reset();
    assert_eq!(h.get_as("/s/get/a", &flip(&sid, 40)).await.body, "null");
    assert_eq!(h.calls().total(), 0);
    let moved = h.get_as("/s/regenerate", &sid).await.cookie_value();
    assert_ne!(moved, sid);
    assert_eq!(h.get_as("/s/get/a", &moved).await.body, "\"1\"");
    assert_eq!(h.get_as("/s/get/a", &sid).await.body, "null");
}
