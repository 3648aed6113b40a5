//! See `session_fuzz::mongo_record`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| session_fuzz::mongo_record(data));
