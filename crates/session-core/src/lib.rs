#![doc = include_str!("../README.md")]

mod id;
#[cfg(feature = "memory-store")]
mod memory;
mod record;
mod store;
mod timestamp;

#[cfg(feature = "test-suite")]
pub mod test_suite;

pub use id::{SessionId, StoreKey};
#[cfg(feature = "memory-store")]
pub use memory::{MemoryLimits, MemoryStore};
pub use record::{Changeset, Data, Record, SessionSummary};
pub use store::{ApplyOutcome, CreateOutcome, SessionStore, StoreError};
pub use timestamp::Timestamp;
