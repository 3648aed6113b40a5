#![doc = include_str!("../README.md")]

mod error;
mod fairing;
mod guard;

pub use error::Error;
pub use fairing::SessionFairing;
pub use guard::Session;
pub use session_core;
use session_core::adapter::RequestClaims;
pub use session_core::{
    ConflictPolicy, CookieMode, Key, MemoryStore, SessionConfig, SessionError, SessionManager,
    store::SessionStore,
};

/// The request-local slot the fairing marked `M` fills and the guard reads.
struct Slot<M>(Option<Session<M>>);

impl<M> Slot<M> {
    fn empty() -> Self {
        Self(None)
    }
}

/// The request's [`RequestClaims`], and whether two fairings conflicted on it.
#[derive(Default)]
struct Claims {
    claims: std::sync::Mutex<RequestClaims>,
    conflicted: std::sync::atomic::AtomicBool,
}

impl Claims {
    fn of<'r>(request: &'r rocket::Request<'_>) -> &'r Self {
        request.local_cache(Self::default)
    }

    fn conflicted(&self) -> bool {
        self.conflicted.load(std::sync::atomic::Ordering::Relaxed)
    }
}
