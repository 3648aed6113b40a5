//! The examples' HTTP contract against the real `example-actix` binary, on the memory
//! store and on an SQLite file.

example_support::contract_tests!(env!("CARGO_BIN_EXE_example-actix"));
