#![doc = include_str!("../README.md")]
#![warn(missing_debug_implementations)]

mod cleanup;
mod codec;
mod config;
mod cookie_header;
mod csrf;
mod error;
pub mod express;
mod id;
mod listing;
mod manager;
mod marker;
#[cfg(feature = "memory-store")]
mod memory;
mod observe;
mod raw_json;
mod record;
mod response;
mod session;
mod store_contract;
mod timestamp;
mod transport;

#[cfg(feature = "test-suite")]
pub mod test_suite;

// What an application uses: the root.
pub use codec::{CookieMode, Key, MIN_KEY_BYTES};
pub use config::{ConflictPolicy, SameSite, SessionConfig, SessionConfigBuilder};
pub use csrf::{CsrfGuard, CsrfRefusal};
pub use error::{ConfigError, SessionError};
pub use express::ExpressSecrets;
pub use id::SidKeying;
pub use listing::{
    MAX_LABEL_BYTES, MAX_SESSIONS_PER_PAGE, PageCursor, PageRequest, SessionHandle, SessionPage,
    SessionSummary,
};
pub use manager::SessionManager;
pub use marker::Primary;
#[cfg(feature = "memory-store")]
pub use memory::{MemoryLimits, MemoryStore};
pub use session::{MAX_VALUE_DEPTH, Session};
pub use timestamp::Timestamp;
pub use transport::{DEFAULT_TOKEN_HEADER, DEFAULT_TOKEN_RESPONSE_HEADER, Transport};

pub mod store {
    //! For store authors: the contract a backend implements and what travels through it.
    //!
    //! An application only names [`SessionStore`] (to hold a store chosen at run time) and
    //! [`StoreError`] (inside [`SessionError::Store`](crate::SessionError::Store)). A new
    //! backend implements [`SessionStore`] and runs the conformance suite
    //! (`session_core::store_conformance_tests!`, feature `test-suite`).

    pub use crate::cleanup::{CleanupHandle, spawn_cleanup};
    pub use crate::id::StoreKey;
    pub use crate::raw_json::RawJson;
    pub use crate::record::{Base, Changeset, Data, Record};
    pub use crate::session::json_text::json_object;
    pub use crate::store_contract::{
        ApplyOutcome, CreateOutcome, REVOCATION_HORIZON, RotateOutcome, SessionStore, StoreError,
    };
}

pub mod adapter {
    //! For adapter authors: what a framework integration translates to and from HTTP.
    //!
    //! An adapter calls [`SessionManager::start_request`](crate::SessionManager::start_request)
    //! with the request's `Cookie` headers, its token header (when
    //! [`SessionConfig::token_header`](crate::SessionConfig::token_header) names one) and the
    //! [`RequestInfo`] the CSRF guard reads, hands the [`Session`](crate::Session) to handlers, then
    //! [`SessionManager::finish_or_status`](crate::SessionManager::finish_or_status) with the
    //! [`ResponseInfo`] and applies the returned [`HeaderPatch`] to the response.

    pub use crate::csrf::RequestInfo;
    pub use crate::manager::SaveFailure;
    pub use crate::marker::{ClaimConflict, RequestClaims};
    pub use crate::response::{HeaderPatch, ResponseInfo};
}

// The crate's own paths to items that are public under a module above.
pub(crate) use csrf::RequestInfo;
pub(crate) use id::{SessionId, StoreKey};
pub(crate) use raw_json::RawJson;
pub(crate) use record::{Base, Changeset, Data, Record};
pub(crate) use store_contract::{
    ApplyOutcome, CreateOutcome, RotateOutcome, SessionStore, StoreError,
};
