//! The store conformance suite on a SQLite file database (WAL, pooled connections).

mod common;

session_core::store_conformance_tests!(common::file_store());
