#![doc = include_str!("../README.md")]
#![warn(missing_debug_implementations)]

mod cleanup;
mod codec;
mod config;
mod cookie_header;
mod error;
pub mod express;
mod id;
mod manager;
#[cfg(feature = "memory-store")]
mod memory;
mod observe;
mod record;
mod response;
mod session;
mod store;
mod timestamp;

#[cfg(feature = "test-suite")]
pub mod test_suite;

pub use cleanup::{CleanupHandle, spawn_cleanup};
pub use codec::{CookieCodec, CookieError, CookieMode, Key, MIN_KEY_BYTES, Verified};
pub use config::{ConflictPolicy, SameSite, SessionConfig, SessionConfigBuilder};
pub use error::{ConfigError, SessionError};
pub use express::ExpressSecrets;
pub use id::{SessionId, SidKeying, StoreKey};
pub use manager::{SaveFailure, SessionManager};
#[cfg(feature = "memory-store")]
pub use memory::{MemoryLimits, MemoryStore};
pub use record::{Changeset, Data, Record, SessionSummary};
pub use response::{HeaderPatch, ResponseInfo};
pub use session::{MAX_VALUE_DEPTH, Session};
pub use store::{
    ApplyOutcome, CreateOutcome, REVOCATION_HORIZON, RotateOutcome, SessionStore, StoreError,
};
pub use timestamp::Timestamp;
