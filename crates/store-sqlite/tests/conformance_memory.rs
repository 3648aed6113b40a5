//! The store conformance suite on an in-memory SQLite database.

mod common;

session_core::store_conformance_tests!(common::memory_store());
