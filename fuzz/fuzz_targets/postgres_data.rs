//! See `session_fuzz::postgres_data`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| session_fuzz::postgres_data(data));
