//! Placeholder replaced by the store micro-benchmarks.
fn main() {}
