//! Property tests of the cookie codec: arbitrary input never panics and is never accepted
//! unless it was produced under a configured key.

use proptest::prelude::*;
use session_core::test_suite::ProbeStore;
use session_core::{CookieCodec, CookieMode, Key, SessionId, SessionManager};

fn codec(mode: CookieMode, key: &Key) -> CookieCodec {
    CookieCodec::new("sid", mode, vec![key.clone()]).expect("codec")
}

fn modes() -> impl Strategy<Value = CookieMode> {
    prop_oneof![Just(CookieMode::Signed), Just(CookieMode::Private)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_values_are_refused(mode in modes(), bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let key = Key::generate();
        let text = String::from_utf8_lossy(&bytes);
        prop_assert!(codec(mode, &key).decode(&text).is_err());
    }

    #[test]
    fn arbitrary_strings_shaped_like_ours_are_refused(mode in modes(), text in "[A-Za-z0-9_.-]{40,130}") {
        let key = Key::generate();
        prop_assert!(codec(mode, &key).decode(&text).is_err());
    }

    #[test]
    fn any_single_byte_change_is_refused(mode in modes(), at in 0usize..200, to in any::<u8>()) {
        let key = Key::generate();
        let c = codec(mode, &key);
        let good = c.encode(&SessionId::generate());
        let mut bytes = good.clone().into_bytes();
        let at = at % bytes.len();
        prop_assume!(bytes[at] != to);
        bytes[at] = to;
        let text = String::from_utf8_lossy(&bytes);
        // Base64 leaves a few low bits unused in the last character; a change there
        // decodes to the same bytes, which is the same cookie, not a forgery.
        if let Ok(v) = c.decode(&text) {
            prop_assert_eq!(c.decode(&good).expect("good").id, v.id);
        }
    }

    #[test]
    fn values_round_trip_only_under_their_key(mode in modes()) {
        let (key, other) = (Key::generate(), Key::generate());
        let id = SessionId::generate();
        let value = codec(mode, &key).encode(&id);
        prop_assert_eq!(codec(mode, &key).decode(&value).expect("own key").id, id);
        prop_assert!(codec(mode, &other).decode(&value).is_err());
    }

    #[test]
    fn arbitrary_cookie_headers_never_reach_the_store(headers in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..5)) {
        let config = session_core::SessionConfig::builder([Key::generate()]).secure(false).build().expect("config");
        let store = ProbeStore::new(session_core::MemoryStore::default());
        let manager = SessionManager::new(store.clone(), config);
        let session = manager.start(headers.iter().map(Vec::as_slice));
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let value = runtime.block_on(session.get_value("n")).expect("get");
        prop_assert_eq!(value, None);
        prop_assert_eq!(store.calls().total(), 0, "a random header verified as a session cookie");
    }
}
