#![doc = include_str!("../README.md")]

mod error;
mod extract;
mod middleware;

pub use error::Error;
pub use extract::Session;
pub use middleware::{SessionMiddleware, SessionService};
pub use session_core;
pub use session_core::{
    ConflictPolicy, CookieMode, Key, MemoryStore, SessionConfig, SessionError, SessionManager,
    store::SessionStore,
};
