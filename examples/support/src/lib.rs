#![doc = include_str!("../README.md")]

mod app;
pub mod compat;
mod input;
pub mod page;
mod settings;
mod store;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

/// The root README's quick start (axum + SQLite), compiled by
/// `cargo test --doc -p example-support`.
#[cfg(all(doctest, feature = "sqlite"))]
#[doc = include_str!("../../../README.md")]
mod readme {}

use std::net::SocketAddr;

use session_core::SessionManager;

pub use app::{
    AppError, Count, DATA_PREFIX, MAX_USER_CHARS, Me, PageView, Revoked, SessionView, Sessions,
    UserView, data_key, device_label, login_name, session_handle,
};
pub use input::{Format, Login};
pub use settings::{DEFAULT_PORT, DEFAULT_STORE, Settings, SettingsError};
pub use store::{CLEANUP_EVERY, ConnectError, StoreUrl, connect, connect_with};

/// The body of `GET /health`.
pub const HEALTH_BODY: &str = "ok";

/// Everything an example binary needs before it serves.
pub struct Setup {
    /// The session manager over the configured store.
    pub manager: SessionManager,
    /// Where to listen.
    pub addr: SocketAddr,
    /// The settings it was built from.
    pub settings: Settings,
}

/// Why an example could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The environment is wrong.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The store is unreachable or refused its migration.
    #[error(transparent)]
    Connect(#[from] ConnectError),
}

/// Starts logging, reads the environment, connects the store and builds the manager.
/// Call it inside the runtime that serves requests.
pub async fn setup() -> Result<Setup, StartError> {
    telemetry::init();
    let settings = Settings::from_env()?;
    let config = settings.session_config()?;
    if settings.generated_key {
        tracing::warn!(
            "SESSION_KEYS is not set: using a random development key, so sessions end when the \
             process stops and cannot be shared between processes; set SESSION_KEYS to \
             comma-separated base64 keys of at least 32 bytes (newest first)"
        );
    }
    if !settings.cookie_secure {
        tracing::warn!(
            "SESSION_COOKIE_SECURE is off: fine for http://localhost, not for production"
        );
    }
    let store = match &settings.compat {
        compat::Compat::Express(names) => {
            compat::connect_express(&settings.store, names, &config, settings.store_timeout)
                .await
                .map_err(|e| ConnectError::new(&settings.store, e))?
        }
        compat::Compat::Native | compat::Compat::ExpressMigrated => {
            connect_with(&settings.store, settings.store_timeout).await?
        }
    };
    if settings.compat.is_express() {
        tracing::info!(
            compat = ?settings.compat,
            "express-session compatible cookie (connect.sid, SESSION_SECRETS)"
        );
    }
    tracing::info!(store = %settings.store, "session store ready");
    Ok(Setup {
        manager: SessionManager::from_arc(store, config),
        addr: settings.addr,
        settings,
    })
}

/// The value of `result`, or, on error, `error: …` on stderr and exit code 2.
pub fn or_exit<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2)
        }
    }
}
