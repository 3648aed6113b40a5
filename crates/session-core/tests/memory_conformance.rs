//! The conformance suite on the bounded memory store. Its sweeper is slowed to once an
//! hour here, so `delete_expired` is what removes expired records in these cases.

use std::time::Duration;

use session_core::{MemoryLimits, MemoryStore};

session_core::store_conformance_tests!(async {
    MemoryStore::new(MemoryLimits {
        sweep_every: Duration::from_secs(3600),
        ..MemoryLimits::default()
    })
});
