#![doc = include_str!("../README.md")]

mod error;
mod fairing;
mod guard;

pub use error::Error;
pub use fairing::SessionFairing;
pub use guard::Session;
pub use session_core;
pub use session_core::{
    ConflictPolicy, CookieMode, Key, MemoryStore, SessionConfig, SessionError, SessionManager,
    store::SessionStore,
};

/// The request-local slot the fairing fills and the guard reads.
struct Slot(Option<session_core::Session>);
