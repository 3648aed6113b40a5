//! Store micro-benchmark results (criterion's estimates) and their table. Being written.
