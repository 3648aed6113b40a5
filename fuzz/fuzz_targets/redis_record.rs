//! See `session_fuzz::redis_record`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| session_fuzz::redis_record(data));
