//! Header injection through cookie configuration is refused when the configuration is
//! built, before any response is written. The examples do not read a cookie name, path or
//! domain from the environment, so this checks `SessionConfig::builder`, which the
//! examples' `Settings::session_config` goes through.

use example_support::Settings;
use session_core::{ConfigError, Key, SessionConfig, SessionConfigBuilder};

/// A plain-http builder (no `__Host-` prefix requirements), as the examples use by default.
fn builder() -> SessionConfigBuilder {
    SessionConfig::builder([Key::generate()]).secure(false)
}

const INJECTIONS: &[&str] = &[
    "sid; Domain=evil.example",
    "sid\r\nSet-Cookie: admin=1",
    "sid\nX-Injected: 1",
    "sid\0",
    "sid\u{7f}",
];

#[test]
fn cookie_names_with_separators_or_control_characters_are_refused() {
    let more = ["sid x", "sid=x", "sid,x", "sïd", "", "\"sid\""];
    for name in INJECTIONS.iter().copied().chain(more) {
        let refused = builder().cookie_name(name).build();
        assert!(
            matches!(refused, Err(ConfigError::InvalidCookieName(_))),
            "cookie name {name:?}: {refused:?}"
        );
    }
}

#[test]
fn cookie_paths_and_domains_with_separators_or_control_characters_are_refused() {
    let paths = INJECTIONS.iter().map(|i| format!("/{i}"));
    for path in paths.chain(["/a\tb".to_owned(), String::new()]) {
        let refused = builder().cookie_path(path.as_str()).build();
        assert!(
            matches!(
                refused,
                Err(ConfigError::InvalidCookieAttribute {
                    attribute: "Path",
                    ..
                })
            ),
            "path {path:?}: {refused:?}"
        );
    }
    for injection in INJECTIONS {
        let domain = format!("example.com{}", &injection[3..]);
        let refused = builder().cookie_domain(domain.as_str()).build();
        assert!(
            matches!(
                refused,
                Err(ConfigError::InvalidCookieAttribute {
                    attribute: "Domain",
                    ..
                })
            ),
            "domain {domain:?}: {refused:?}"
        );
    }
    let long = format!("/{}", "a".repeat(1024));
    assert!(
        builder().cookie_path(long).build().is_err(),
        "oversized path"
    );
}

#[test]
fn the_examples_cookie_settings_build() {
    for secure in ["false", "true"] {
        let settings = Settings::from_lookup(|name| {
            (name == "SESSION_COOKIE_SECURE").then(|| secure.to_owned())
        })
        .expect("default settings");
        let config = settings.session_config().expect("the examples' config");
        let name = config.cookie_name();
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_graphic() && b != b';' && b != b'='),
            "{name:?}"
        );
    }
}
