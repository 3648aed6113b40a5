//! Hostile Cookie headers against the real `example-rocket` binary: over 4 KiB, a hundred
//! cookies, non-UTF-8 bytes. A fresh session every time, never a 5xx. (Rocket drops a
//! header that is not UTF-8 before fairings run, so a genuine cookie beside such bytes is
//! not seen: that scenario runs for axum and actix only.)

example_support::cookie_header_tests!(env!("CARGO_BIN_EXE_example-rocket"));
