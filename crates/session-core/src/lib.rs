#![doc = include_str!("../README.md")]
#![warn(missing_debug_implementations)]

mod cleanup;
mod codec;
mod config;
mod cookie_header;
mod csrf;
mod error;
mod id;
mod listing;
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
pub use csrf::{CsrfGuard, CsrfRefusal, RequestInfo};
pub use error::{ConfigError, SessionError};
pub use id::{SessionId, StoreKey};
pub use listing::{
    MAX_LABEL_BYTES, MAX_SESSIONS_PER_PAGE, PageCursor, PageRequest, SessionHandle, SessionPage,
    SessionSummary,
};
pub use manager::{SaveFailure, SessionManager};
#[cfg(feature = "memory-store")]
pub use memory::{MemoryLimits, MemoryStore};
pub use record::{Changeset, Data, Record};
pub use response::{HeaderPatch, ResponseInfo};
pub use session::{MAX_VALUE_DEPTH, Session};
pub use store::{
    ApplyOutcome, CreateOutcome, REVOCATION_HORIZON, RotateOutcome, SessionStore, StoreError,
};
pub use timestamp::Timestamp;
