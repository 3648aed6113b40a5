//! The handle a request handler uses. Cheap to clone; loads from the store lazily, on the
//! first access, and records what the handler changes for the manager to save.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard};

mod account;
mod csrf_token;
mod data;
pub(crate) mod json_text;

pub use data::MAX_VALUE_DEPTH;

use crate::codec::Verified;
use crate::manager::Shared;
use crate::observe::store_call;
use crate::transport::Via;
use crate::{Data, SessionError, SessionId, StoreError, StoreKey, Timestamp};

/// One request's view of its session.
///
/// `Send + Sync + Clone`: clones share state, so a handler may pass it to tasks it awaits.
/// Every accessor is async because the first one may load the session from the store;
/// requests that never call one cost no store round trip.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    /// When the request began: the instant a login in it is dated from, and what a
    /// revocation is compared with.
    began_at: Timestamp,
    /// The request's cookie values under the session cookie's name, verified on first use.
    candidates: Vec<String>,
    /// Which way the candidates came.
    via: Via,
    /// The first candidate that verified, once one was asked for.
    cookie: OnceLock<Option<Verified>>,
    /// Why the CSRF guard refused this request the session, if it did.
    refused: Option<crate::CsrfRefusal>,
    state: Mutex<State>,
}

impl Inner {
    /// The verified session cookie, if the request carried one.
    fn cookie(&self) -> Option<&Verified> {
        self.cookie
            .get_or_init(|| {
                self.candidates.iter().find_map(|value| {
                    match self.shared.config.codec.decode(value) {
                        Ok(v) => Some(v),
                        Err(why) => {
                            tracing::debug!(%why, "ignoring session cookie");
                            None
                        }
                    }
                })
            })
            .as_ref()
    }
}

impl std::fmt::Debug for Session {
    /// Never shows the id or the cookie; the data only once loaded, as its keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("Session");
        out.field("credentials_offered", &self.inner.candidates.len())
            .field("via", &self.inner.via);
        match self.inner.state.try_lock() {
            Ok(state) => out
                .field("loaded", &state.loaded)
                .field("stored", &state.current.is_some())
                .field("keys", &state.data.keys().collect::<Vec<_>>()),
            Err(_) => out.field("state", &"<in use>"),
        };
        out.finish_non_exhaustive()
    }
}

/// The stored session this request continues, as loaded.
pub(crate) struct Current {
    pub id: SessionId,
    /// `id.store_key()`, derived once per request (it is a SHA-256).
    pub key: StoreKey,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub user: Option<String>,
    pub authenticated_at: Option<Timestamp>,
    pub persistent: bool,
    pub version: u64,
    pub by_older_key: bool,
    pub label: Option<String>,
}

/// What the handler changed, in store terms.
#[derive(Default)]
pub(crate) struct Pending {
    /// Keys written; their values are in `State::data`, so a value is held once.
    pub set: BTreeSet<String>,
    pub removed: BTreeSet<String>,
    pub cleared: bool,
    pub user: Option<Option<String>>,
    pub persistent: Option<bool>,
    pub label: Option<Option<String>>,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
            && self.removed.is_empty()
            && !self.cleared
            && self.user.is_none()
            && self.persistent.is_none()
            && self.label.is_none()
    }
}

#[derive(Default)]
pub(crate) struct State {
    /// The handler called an accessor (whether or not the load succeeded).
    pub accessed: bool,
    pub loaded: bool,
    pub current: Option<Current>,
    pub data: Data,
    pub pending: Pending,
    pub regenerate: bool,
    /// The handler tried to use a session the CSRF guard refused: the response becomes a
    /// 403 whatever the handler answered.
    pub refused_access: bool,
    /// The stored session `destroy` ended, to be deleted at the end of the request.
    pub destroyed: Option<StoreKey>,
    /// Encoded size of the data (keys plus JSON values), summed on the first write and
    /// kept up to date after it.
    pub(crate) data_bytes: Option<usize>,
}

impl State {
    pub(crate) fn user(&self) -> Option<&str> {
        match &self.pending.user {
            Some(user) => user.as_deref(),
            None => self.stored_user(),
        }
    }

    fn stored_user(&self) -> Option<&str> {
        self.current.as_ref().and_then(|c| c.user.as_deref())
    }

    /// Whether the save must move the session to a new id: asked for, or the principal
    /// changes (login, logout, switch), so no id outlives a change of who it speaks for.
    pub(crate) fn rotates(&self) -> bool {
        self.regenerate
            || self
                .pending
                .user
                .as_ref()
                .is_some_and(|user| user.as_deref() != self.stored_user())
    }

    /// Drops every data key, as [`Session::clear`] does.
    pub(crate) fn clear_data(&mut self) {
        if self.data.is_empty() && !self.pending.cleared {
            return;
        }
        self.data.clear();
        self.data_bytes = Some(0);
        self.pending.set.clear();
        self.pending.removed.clear();
        self.pending.cleared = true;
    }

    /// A change of principal: the data of a previous principal never reaches the next
    /// one (Django's rule), an anonymous visitor's data (a cart) survives a login.
    fn change_principal(&mut self, user: Option<String>, flush: bool) {
        if self.user() == user.as_deref() {
            // Signing the same user in again is a re-authentication: it re-dates the login
            // (what `require_recent_auth` checks) and, as any change of privilege, moves
            // the session to a new id. The data stays: the principal is the same.
            if user.is_some() {
                self.pending.user = Some(user);
                self.regenerate = true;
            }
            return;
        }
        if flush && self.user().is_some() {
            self.clear_data();
        }
        self.pending.user = Some(user);
    }
}

impl Session {
    pub(crate) fn new(
        shared: Arc<Shared>,
        candidates: Vec<String>,
        via: Via,
        refused: Option<crate::CsrfRefusal>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                shared,
                began_at: Timestamp::now(),
                candidates,
                via,
                cookie: OnceLock::new(),
                refused,
                state: Mutex::default(),
            }),
        }
    }

    /// Why the CSRF guard refused this request the session, if it did.
    pub(crate) fn csrf_refusal(&self) -> Option<crate::CsrfRefusal> {
        self.inner.refused
    }

    /// The CSRF guard's refusal, noted in the state so the response becomes a 403.
    fn refuse(&self, state: &mut State) -> Result<(), SessionError> {
        match self.inner.refused {
            Some(why) => {
                state.refused_access = true;
                tracing::info!(target: "session_core", %why, "CSRF guard refused the session");
                Err(SessionError::CsrfRefused(why))
            }
            None => Ok(()),
        }
    }

    /// A session of a fresh memory-store manager, for the examples in these docs.
    #[doc(hidden)]
    #[cfg(feature = "memory-store")]
    pub fn for_docs() -> Self {
        let config = crate::SessionConfig::builder([crate::Key::generate()])
            .secure(false)
            .build();
        match config {
            Ok(config) => {
                crate::SessionManager::new(crate::MemoryStore::default(), config).start([])
            }
            Err(e) => panic!("the documentation's configuration is valid: {e}"),
        }
    }

    pub(crate) async fn take_state(&self) -> State {
        std::mem::take(&mut *self.inner.state.lock().await)
    }

    /// Which way this request's credential came.
    pub(crate) fn via(&self) -> Via {
        self.inner.via
    }

    /// Whether this request presented its session in a token header rather than a cookie:
    /// such a request cannot be forged cross-site, so CSRF checks do not apply to it.
    ///
    /// ```
    /// # let session = session_core::Session::for_docs();
    /// assert!(!session.is_token_request()); // `for_docs` is a request without credentials
    /// ```
    pub fn is_token_request(&self) -> bool {
        self.inner.via == Via::Header
    }

    /// When this request began.
    pub(crate) fn began_at(&self) -> Timestamp {
        self.inner.began_at
    }

    /// The state, loaded from the store on first use.
    async fn loaded(&self) -> Result<MutexGuard<'_, State>, SessionError> {
        let mut state = self.inner.state.lock().await;
        self.refuse(&mut state)?;
        state.accessed = true;
        if state.loaded {
            return Ok(state);
        }
        if let Some(cookie) = self.inner.cookie() {
            let key = cookie.id.store_key();
            let load = self.inner.shared.store.load(&key);
            let found = store_call("load", load, |r| if r.is_some() { "found" } else { "none" });
            match found.await {
                Ok(Some(record)) if self.inner.shared.is_live(&record, Timestamp::now()) => {
                    state.current = Some(Current {
                        id: cookie.id.clone(),
                        key,
                        created_at: record.created_at,
                        expires_at: record.expires_at,
                        user: record.user,
                        authenticated_at: record.authenticated_at,
                        persistent: record.persistent,
                        version: record.version,
                        by_older_key: cookie.by_older_key,
                        label: record.label,
                    });
                    state.data = record.data;
                }
                Ok(_) => {}
                Err(StoreError::Corrupt(why)) => {
                    tracing::warn!(store_key = %key, %why, "corrupt session record; starting a fresh session");
                }
                Err(e) => return Err(e.into()),
            }
        }
        state.loaded = true;
        Ok(state)
    }

    /// The signed-in user, if any.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// assert_eq!(session.user().await?, None);
    /// session.set_user("alice").await?;
    /// assert_eq!(session.user().await?.as_deref(), Some("alice"));
    /// # Ok(()) }
    /// ```
    pub async fn user(&self) -> Result<Option<String>, SessionError> {
        Ok(self.loaded().await?.user().map(str::to_owned))
    }

    /// Signs the session in as `user` (and files it in that user's index). A change of
    /// principal always moves the session to a new id in the same save, so a login needs
    /// no [`regenerate`](Self::regenerate) to be safe from fixation. Coming from another
    /// signed-in principal, the data starts empty (unless
    /// [`flush_on_principal_change`](crate::SessionConfigBuilder::flush_on_principal_change)
    /// is off); an anonymous visitor's data survives. The login is dated from the start of
    /// this request ([`authenticated_at`](Self::authenticated_at)); signing the same user
    /// in again (after asking for the password again) re-dates it and rotates the id, with
    /// the data kept.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// // After checking the credentials:
    /// session.set_user("alice").await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_user(&self, user: impl Into<String>) -> Result<(), SessionError> {
        let flush = self.inner.shared.config.flush_on_principal_change;
        self.loaded()
            .await?
            .change_principal(Some(user.into()), flush);
        Ok(())
    }

    /// Signs the session out of its user, keeping the session itself: a new id, and the
    /// data dropped (the next principal must not see it) unless
    /// [`flush_on_principal_change`](crate::SessionConfigBuilder::flush_on_principal_change)
    /// is off. Use [`destroy`](Self::destroy) to end the session altogether.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// session.set_user("alice").await?;
    /// session.clear_user().await?;
    /// assert_eq!(session.user().await?, None);
    /// # Ok(()) }
    /// ```
    pub async fn clear_user(&self) -> Result<(), SessionError> {
        let flush = self.inner.shared.config.flush_on_principal_change;
        self.loaded().await?.change_principal(None, flush);
        Ok(())
    }

    /// When the current user signed in: the start of the request that called
    /// [`set_user`](Self::set_user); `None` when nobody is signed in.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// session.set_user("alice").await?;
    /// assert!(session.authenticated_at().await?.is_some());
    /// # Ok(()) }
    /// ```
    pub async fn authenticated_at(&self) -> Result<Option<Timestamp>, SessionError> {
        let state = self.loaded().await?;
        Ok(match &state.pending.user {
            Some(Some(_)) => Some(self.inner.began_at),
            Some(None) => None,
            None => state.current.as_ref().and_then(|c| c.authenticated_at),
        })
    }

    /// Guards a sensitive action (changing a password, paying): `Ok` only when a user is
    /// signed in and signed in at most `max_age` ago. Otherwise
    /// [`SessionError::ReauthRequired`], which adapters answer with 401: ask for the
    /// credentials again, then call [`set_user`](Self::set_user).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// use std::time::Duration;
    /// session.set_user("alice").await?;
    /// session.require_recent_auth(Duration::from_secs(300)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn require_recent_auth(&self, max_age: Duration) -> Result<(), SessionError> {
        let recent = self
            .authenticated_at()
            .await?
            .is_some_and(|at| at.add(max_age) >= Timestamp::now());
        if recent {
            Ok(())
        } else {
            Err(SessionError::ReauthRequired)
        }
    }

    /// "Remember me": a persistent cookie (`true`) or a browser-session cookie (`false`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// // The "remember me" box was ticked:
    /// session.set_persistent(true).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_persistent(&self, persistent: bool) -> Result<(), SessionError> {
        self.loaded().await?.pending.persistent = Some(persistent);
        Ok(())
    }

    /// Moves the session to a new id at the end of the request, keeping its data, and
    /// deletes the old record, atomically: if a concurrent logout or revocation removed the
    /// old record first, nothing is created and the client's cookie is expired. Logins
    /// ([`set_user`](Self::set_user)) rotate by themselves; call this at other privilege
    /// changes. Even when the handler answers 5xx the old id ends (the session moves on
    /// without this request's data changes).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// // Privileges changed (e.g. the user confirmed a second factor):
    /// session.insert("mfa", true).await?;
    /// session.regenerate().await?;
    /// # Ok(()) }
    /// ```
    pub async fn regenerate(&self) -> Result<(), SessionError> {
        self.loaded().await?.regenerate = true;
        Ok(())
    }

    /// Ends the session: its record is deleted and the cookie expired, whatever status the
    /// response has (if the delete fails, the client still gets the expiring cookie, with a
    /// 503). Writes made after this in the same request start a new session with a new id.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// // Sign out:
    /// session.destroy().await?;
    /// assert_eq!(session.user().await?, None);
    /// # Ok(()) }
    /// ```
    pub async fn destroy(&self) -> Result<(), SessionError> {
        let mut state = self.inner.state.lock().await;
        self.refuse(&mut state)?;
        state.accessed = true;
        let current = state.current.take();
        let key = current.map(|c| c.key.clone()).or_else(|| {
            // Not loaded: delete by the cookie's key without a load round trip.
            (!state.loaded).then(|| self.inner.cookie().map(|c| c.id.store_key()))?
        });
        let destroyed = key.or(state.destroyed.take());
        *state = State {
            accessed: true,
            loaded: true,
            destroyed,
            ..State::default()
        };
        Ok(())
    }

    /// The store key of the stored session this request continues (`None` for a new one):
    /// compare it with [`SessionSummary::key`](crate::SessionSummary::key) to mark the current session in a list.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// // A session not stored yet has no key.
    /// assert_eq!(session.store_key().await?, None);
    /// # Ok(()) }
    /// ```
    pub async fn store_key(&self) -> Result<Option<StoreKey>, SessionError> {
        Ok(self
            .loaded()
            .await?
            .current
            .as_ref()
            .map(|c| c.id.store_key()))
    }
}
