//! Hostile Cookie headers against the real `example-actix` binary: over 4 KiB, a hundred
//! cookies, non-UTF-8 bytes. A fresh session every time, never a 5xx.

example_support::cookie_header_tests!(
    env!("CARGO_BIN_EXE_example-actix"),
    a_genuine_cookie_beside_non_utf8_bytes_is_found
);
