//! The session-core store conformance suite against MongoDB (`MONGO_URI`).

mod common;

session_core::store_conformance_tests!(common::make_store(), native_expiry);
