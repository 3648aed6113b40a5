//! Cookie headers from arbitrary bytes: finding the session cookie, verifying it, and the
//! manager's laziness. Random bytes never verify, so every session must come out fresh and
//! reading it must not touch the store.

use std::sync::OnceLock;
use std::time::Duration;

use session_core::test_suite::ProbeStore;
use session_core::{
    CookieMode, Key, MemoryStore, SessionConfig, SessionManager, test_suite::CookieCodec,
};
use tokio::runtime::Runtime;

/// The cookie name the manager looks for.
const NAME: &str = "sid";

/// One manager per mode and process, over a counting memory store.
struct Fixture {
    manager: SessionManager,
    probe: ProbeStore<MemoryStore>,
    runtime: Runtime,
}

/// Fixed key material (drawn once from a CSPRNG): crashes stay reproducible, no input can
/// know it anyway, and it passes `Key::from_bytes`'s low-entropy check (`[0x5a; 32]`, used
/// before, does not).
const KEY: [u8; 32] = [
    0x72, 0xc9, 0xf4, 0x91, 0xaa, 0xc2, 0x10, 0x0b, 0xbc, 0x8c, 0x24, 0xaa, 0xf3, 0x20, 0xe0, 0x44,
    0x71, 0x4a, 0x7c, 0xf7, 0xb8, 0xc1, 0x66, 0xa4, 0xbb, 0x6a, 0x33, 0xba, 0x53, 0x1b, 0xe6, 0x3a,
];

fn key() -> Key {
    match Key::from_bytes(&KEY) {
        Ok(key) => key,
        Err(e) => panic!("fixed fuzz key refused: {e}"),
    }
}

fn fixture(mode: CookieMode) -> &'static Fixture {
    static SIGNED: OnceLock<Fixture> = OnceLock::new();
    static PRIVATE: OnceLock<Fixture> = OnceLock::new();
    let cell = match mode {
        CookieMode::Signed => &SIGNED,
        CookieMode::Private => &PRIVATE,
    };
    cell.get_or_init(|| {
        let config = SessionConfig::builder([key()])
            .cookie_name(NAME)
            .mode(mode)
            .idle_timeout(Some(Duration::from_secs(3600)))
            .build()
            .unwrap_or_else(|e| panic!("fuzz config refused: {e}"));
        // Built outside a runtime, so the memory store starts no sweeper task.
        let probe = ProbeStore::new(MemoryStore::with_max_entries(16));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("no tokio runtime: {e}"));
        Fixture {
            manager: SessionManager::new(probe.clone(), config),
            probe,
            runtime,
        }
    })
}

/// The whole input as `Cookie` headers three ways (raw lines, a value after `sid=`, and a
/// NUL-split name/value pair for a codec of that name); none may verify or reach the store.
pub fn cookie(mode: CookieMode, data: &[u8]) {
    let fx = fixture(mode);

    // 1. The input as is, one header per line.
    start_untouched(fx, data.split(|&b| b == b'\n'));

    // 2. The input as the value of our cookie, so the codec sees it without the fuzzer
    //    having to find the name first.
    let mut header = format!("{NAME}=").into_bytes();
    header.extend_from_slice(data);
    start_untouched(fx, [header.as_slice()]);
    assert!(
        fx.manager
            .config()
            .codec()
            .decode(&String::from_utf8_lossy(data))
            .is_err(),
        "arbitrary bytes verified as a cookie value"
    );

    // 3. Name and value split at the first NUL, for a codec bound to that name.
    let (name, value) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b""[..], data),
    };
    let codec = CookieCodec::new(&String::from_utf8_lossy(name), mode, vec![key()])
        .unwrap_or_else(|e| panic!("codec refused a name: {e}"));
    if let Ok(value) = std::str::from_utf8(value) {
        assert!(
            codec.decode(value).is_err(),
            "arbitrary value verified under cookie name {name:?}"
        );
    }
}

/// Starts a request with `headers` and reads a key: the session must be fresh (nothing to
/// read) and neither step may call the store.
fn start_untouched<'a>(fx: &Fixture, headers: impl IntoIterator<Item = &'a [u8]>) {
    fx.probe.reset();
    let session = fx.manager.start(headers);
    let value = fx.runtime.block_on(session.get_value("x"));
    assert!(
        matches!(value, Ok(None)),
        "a fresh session read back {value:?}"
    );
    assert_eq!(
        fx.probe.calls().total(),
        0,
        "an unverified cookie reached the store: {:?}",
        fx.probe.calls()
    );
}
