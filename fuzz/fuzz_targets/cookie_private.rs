//! Arbitrary bytes as `Cookie` header(s) under the private cookie mode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::CookieMode;

fuzz_target!(|data: &[u8]| session_fuzz::cookie(CookieMode::Private, data));
