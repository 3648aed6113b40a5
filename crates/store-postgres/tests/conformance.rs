//! The store conformance suite on the local PostgreSQL server (`POSTGRES_URL`).

mod common;

session_core::store_conformance_tests!(common::store());
