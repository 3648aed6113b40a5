//! The conformance suite on the bounded memory store.

session_core::store_conformance_tests!(async { session_core::MemoryStore::default() });
