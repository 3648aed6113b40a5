//! The handle a request handler uses. Cheap to clone; loads from the store lazily, on the
//! first access, and records what the handler changes for the manager to save.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{Mutex, MutexGuard};

use crate::codec::Verified;
use crate::manager::Shared;
use crate::{Data, SessionError, SessionId, SessionSummary, StoreError, StoreKey, Timestamp};

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
    /// The first candidate that verified, once one was asked for.
    cookie: OnceLock<Option<Verified>>,
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
        out.field("cookies_offered", &self.inner.candidates.len());
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
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub user: Option<String>,
    pub authenticated_at: Option<Timestamp>,
    pub persistent: bool,
    pub version: u64,
    pub by_older_key: bool,
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
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
            && self.removed.is_empty()
            && !self.cleared
            && self.user.is_none()
            && self.persistent.is_none()
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
    /// The stored session `destroy` ended, to be deleted at the end of the request.
    pub destroyed: Option<StoreKey>,
    /// Serialized size per key, built on the first write.
    sizes: Option<(BTreeMap<String, usize>, usize)>,
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
    fn clear_data(&mut self) {
        if self.data.is_empty() && !self.pending.cleared {
            return;
        }
        self.data.clear();
        self.sizes = Some((BTreeMap::new(), 0));
        self.pending.set.clear();
        self.pending.removed.clear();
        self.pending.cleared = true;
    }

    /// A change of principal: the data of a previous principal never reaches the next
    /// one (Django's rule), an anonymous visitor's data (a cart) survives a login.
    fn change_principal(&mut self, user: Option<String>, flush: bool) {
        if self.user() == user.as_deref() {
            return;
        }
        if flush && self.user().is_some() {
            self.clear_data();
        }
        self.pending.user = Some(user);
    }
}

impl Session {
    pub(crate) fn new(shared: Arc<Shared>, candidates: Vec<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                shared,
                began_at: Timestamp::now(),
                candidates,
                cookie: OnceLock::new(),
                state: Mutex::default(),
            }),
        }
    }

    pub(crate) async fn take_state(&self) -> State {
        std::mem::take(&mut *self.inner.state.lock().await)
    }

    /// When this request began.
    pub(crate) fn began_at(&self) -> Timestamp {
        self.inner.began_at
    }

    /// The state, loaded from the store on first use.
    async fn loaded(&self) -> Result<MutexGuard<'_, State>, SessionError> {
        let mut state = self.inner.state.lock().await;
        state.accessed = true;
        if state.loaded {
            return Ok(state);
        }
        if let Some(cookie) = self.inner.cookie() {
            let key = cookie.id.store_key();
            match self.inner.shared.store.load(&key).await {
                Ok(Some(record)) if self.inner.shared.is_live(&record, Timestamp::now()) => {
                    state.current = Some(Current {
                        id: cookie.id.clone(),
                        created_at: record.created_at,
                        expires_at: record.expires_at,
                        user: record.user,
                        authenticated_at: record.authenticated_at,
                        persistent: record.persistent,
                        version: record.version,
                        by_older_key: cookie.by_older_key,
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

    /// The value under `key`, deserialized; `None` when absent.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        let state = self.loaded().await?;
        match state.data.get(key) {
            None => Ok(None),
            Some(v) => T::deserialize(v)
                .map(Some)
                .map_err(|source| SessionError::Value {
                    key: key.to_owned(),
                    source,
                }),
        }
    }

    /// The raw JSON value under `key`.
    pub async fn get_value(&self, key: &str) -> Result<Option<Value>, SessionError> {
        Ok(self.loaded().await?.data.get(key).cloned())
    }

    /// Stores `value` under `key`. Fails with [`SessionError::TooLarge`], changing nothing,
    /// when the session would exceed the configured size.
    pub async fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), SessionError> {
        let value = serde_json::to_value(value).map_err(|source| SessionError::Value {
            key: key.to_owned(),
            source,
        })?;
        let depth = depth_of(&value);
        if depth > MAX_VALUE_DEPTH {
            return Err(SessionError::TooDeep {
                key: key.to_owned(),
                depth,
                limit: MAX_VALUE_DEPTH,
            });
        }
        let size = key.len() + encoded_len(&value);
        let limit = self.inner.shared.config.max_data_bytes;
        let mut state = self.loaded().await?;
        let (sizes, total) = sizes_of(&mut state);
        let new_total = *total - sizes.get(key).copied().unwrap_or(0) + size;
        if new_total > limit {
            return Err(SessionError::TooLarge {
                size: new_total,
                limit,
            });
        }
        sizes.insert(key.to_owned(), size);
        *total = new_total;
        state.pending.removed.remove(key);
        state.pending.set.insert(key.to_owned());
        state.data.insert(key.to_owned(), value);
        Ok(())
    }

    /// Removes `key`, returning its value.
    pub async fn remove(&self, key: &str) -> Result<Option<Value>, SessionError> {
        let mut state = self.loaded().await?;
        let old = state.data.remove(key);
        if old.is_some() {
            let (sizes, total) = sizes_of(&mut state);
            *total -= sizes.remove(key).unwrap_or(0);
            state.pending.set.remove(key);
            state.pending.removed.insert(key.to_owned());
        }
        Ok(old)
    }

    /// Removes every key (the user and the session itself stay).
    pub async fn clear(&self) -> Result<(), SessionError> {
        self.loaded().await?.clear_data();
        Ok(())
    }

    /// The data keys present.
    pub async fn keys(&self) -> Result<Vec<String>, SessionError> {
        Ok(self.loaded().await?.data.keys().cloned().collect())
    }

    /// The signed-in user, if any.
    pub async fn user(&self) -> Result<Option<String>, SessionError> {
        Ok(self.loaded().await?.user().map(str::to_owned))
    }

    /// Signs the session in as `user` (and files it in that user's index). A change of
    /// principal always moves the session to a new id in the same save, so a login needs
    /// no [`regenerate`](Self::regenerate) to be safe from fixation. Coming from another
    /// signed-in principal, the data starts empty (unless
    /// [`flush_on_principal_change`](crate::SessionConfigBuilder::flush_on_principal_change)
    /// is off); an anonymous visitor's data survives. The login is dated from the start of
    /// this request ([`authenticated_at`](Self::authenticated_at)).
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
    pub async fn clear_user(&self) -> Result<(), SessionError> {
        let flush = self.inner.shared.config.flush_on_principal_change;
        self.loaded().await?.change_principal(None, flush);
        Ok(())
    }

    /// When the current user signed in: the start of the request that called
    /// [`set_user`](Self::set_user); `None` when nobody is signed in.
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
    pub async fn regenerate(&self) -> Result<(), SessionError> {
        self.loaded().await?.regenerate = true;
        Ok(())
    }

    /// Ends the session: its record is deleted and the cookie expired, whatever status the
    /// response has (if the delete fails, the client still gets the expiring cookie, with a
    /// 503). Writes made after this in the same request start a new session with a new id.
    pub async fn destroy(&self) -> Result<(), SessionError> {
        let mut state = self.inner.state.lock().await;
        state.accessed = true;
        let current = state.current.take();
        let key = current.map(|c| c.id.store_key()).or_else(|| {
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
    /// compare it with [`SessionSummary::key`] to mark the current session in a list.
    pub async fn store_key(&self) -> Result<Option<StoreKey>, SessionError> {
        Ok(self
            .loaded()
            .await?
            .current
            .as_ref()
            .map(|c| c.id.store_key()))
    }

    /// The live sessions of this session's user.
    pub async fn sessions_of_user(&self) -> Result<Vec<SessionSummary>, SessionError> {
        let user = self.user().await?.ok_or(SessionError::NoUser)?;
        Ok(self.inner.shared.store.sessions_of(&user).await?)
    }

    /// Deletes every other session of this session's user ("sign out other devices");
    /// returns how many went. Takes effect immediately.
    pub async fn revoke_other_sessions(&self) -> Result<u64, SessionError> {
        let user = self.user().await?.ok_or(SessionError::NoUser)?;
        let current = self.store_key().await?;
        Ok(self
            .inner
            .shared
            .store
            .delete_sessions_of(&user, current.as_ref())
            .await?)
    }
}

/// The deepest nesting of arrays and objects a session value may have. Deeper values are
/// refused at [`Session::insert`]: JSON parsers of the backends stop at 128 levels (some
/// sooner), so a deeper value would be written and then fail to load on every request.
pub const MAX_VALUE_DEPTH: usize = 64;

/// Nesting depth of `value`: 0 for a scalar, 1 for a flat array or object. Iterative, so
/// a hostile value cannot overflow the stack here.
fn depth_of(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        deepest = deepest.max(depth + 1);
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    deepest
}

fn sizes_of(state: &mut State) -> (&mut BTreeMap<String, usize>, &mut usize) {
    let data = &state.data;
    let (sizes, total) = state.sizes.get_or_insert_with(|| {
        let sizes: BTreeMap<String, usize> = data
            .iter()
            .map(|(k, v)| (k.clone(), k.len() + encoded_len(v)))
            .collect();
        let total = sizes.values().sum();
        (sizes, total)
    });
    (sizes, total)
}

fn encoded_len(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a `Value` to an infallible sink cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}
