//! The request lifecycle every adapter drives: [`SessionManager::start`] with the request's
//! Cookie headers, the handler runs, [`SessionManager::finish`] saves what changed and says
//! which headers to add. Every decision is here, so all frameworks behave identically.

use std::sync::Arc;

use crate::codec::Verified;
use crate::config::{ConflictPolicy, SessionConfig};
use crate::cookie_header::candidates;
use crate::response::{HeaderPatch, Lifetime, ResponseInfo, set_cookie};
use crate::session::{Current, State};
use crate::{
    ApplyOutcome, Changeset, CreateOutcome, Record, Session, SessionError, SessionId, SessionStore,
    StoreError, Timestamp,
};

/// State shared by the manager and every session it hands out.
pub(crate) struct Shared {
    pub store: Arc<dyn SessionStore>,
    pub config: SessionConfig,
}

impl Shared {
    /// The deadline of a session created at `created_at` and active at `now`.
    fn deadline(&self, created_at: Timestamp, now: Timestamp) -> Timestamp {
        let idle = self.config.idle_timeout.map(|d| now.add(d));
        let absolute = self.config.absolute_timeout.map(|d| created_at.add(d));
        match (idle, absolute) {
            (Some(i), Some(a)) => i.min(a),
            (Some(t), None) | (None, Some(t)) => t,
            (None, None) => now,
        }
    }

    /// Whether a loaded record may be used: the store's deadline AND our absolute one,
    /// whatever the store's clock or a replayed cookie claims.
    pub(crate) fn is_live(&self, record: &Record, now: Timestamp) -> bool {
        let absolute_ok = self
            .config
            .absolute_timeout
            .is_none_or(|d| record.created_at.add(d) > now);
        !record.is_expired(now) && absolute_ok
    }
}

/// What to do with the client's cookie at the end of a request.
enum CookieAction {
    Keep,
    Issue {
        id: SessionId,
        expires_at: Timestamp,
        persistent: bool,
    },
    Expire,
}

/// Drives sessions for one store and configuration. Cheap to clone.
#[derive(Clone)]
pub struct SessionManager {
    shared: Arc<Shared>,
}

impl SessionManager {
    /// A manager over `store`.
    pub fn new(store: impl SessionStore, config: SessionConfig) -> Self {
        Self::from_arc(Arc::new(store), config)
    }

    /// A manager over a shared store.
    pub fn from_arc(store: Arc<dyn SessionStore>, config: SessionConfig) -> Self {
        Self {
            shared: Arc::new(Shared { store, config }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.shared.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.shared.store
    }

    /// Begins a request: finds the session cookie candidates among the raw values of its
    /// `Cookie` headers. Nothing is verified or loaded yet: the first session access verifies
    /// the candidates (forged or malformed ones are dropped before any store call, and the
    /// request gets a fresh session), so a request that never touches its session costs no
    /// MAC, no decryption and no store call.
    pub fn start<'a>(&self, cookie_headers: impl IntoIterator<Item = &'a [u8]>) -> Session {
        let config = &self.shared.config;
        let found = candidates(
            cookie_headers,
            &config.cookie.name,
            config.max_cookie_header_bytes,
        );
        Session::new(
            self.shared.clone(),
            found.into_iter().map(str::to_owned).collect(),
        )
    }

    /// Ends a request: saves what the handler changed (at most one write in the common
    /// case) and returns the headers to append. On error the adapter must not send the
    /// handler's response as if it had succeeded: answer [`SessionError::status_code`].
    pub async fn finish(
        &self,
        session: &Session,
        response: ResponseInfo,
    ) -> Result<HeaderPatch, SessionError> {
        let state = session.take_state().await;
        if !state.accessed {
            return Ok(HeaderPatch::none());
        }
        if response.status >= 500 && !self.shared.config.save_on_server_error {
            return Ok(HeaderPatch::none());
        }
        let action = self.save(state).await?;
        let config = &self.shared.config;
        let value = match action {
            CookieAction::Keep => return Ok(HeaderPatch::none()),
            CookieAction::Expire => set_cookie(config, String::new(), Lifetime::Expired),
            CookieAction::Issue {
                id,
                expires_at,
                persistent,
            } => {
                let lifetime = if persistent {
                    Lifetime::MaxAge(Timestamp::now().until(expires_at))
                } else {
                    Lifetime::BrowserSession
                };
                set_cookie(config, config.codec.encode(&id), lifetime)
            }
        };
        Ok(HeaderPatch::with_cookie(value, response))
    }

    /// [`finish`](Self::finish) as adapters use it: on error the failure is logged (the
    /// client never sees its text) and the status to answer with instead is returned.
    pub async fn finish_or_status(
        &self,
        session: &Session,
        response: ResponseInfo,
    ) -> Result<HeaderPatch, u16> {
        self.finish(session, response).await.map_err(|e| {
            tracing::error!(error = %e, "saving the session failed");
            e.status_code()
        })
    }

    async fn save(&self, mut state: State) -> Result<CookieAction, SessionError> {
        let store = &self.shared.store;
        let mut action = CookieAction::Keep;
        if let Some(key) = state.destroyed.take() {
            store.delete(&key).await?;
            action = CookieAction::Expire;
        }
        let now = Timestamp::now();
        match state.current.take() {
            Some(current) => self.save_existing(current, state, now).await,
            None if !state.pending.is_empty()
                || (self.shared.config.save_uninitialized
                    && state.loaded
                    && state.data.is_empty()) =>
            {
                let record = Record {
                    expires_at: self.shared.deadline(now, now),
                    user: state.pending.user.flatten(),
                    authenticated_at: None,
                    persistent: state
                        .pending
                        .persistent
                        .unwrap_or(self.shared.config.persistent),
                    data: state.data,
                    created_at: now,
                    version: 1,
                };
                self.create_with_fresh_id(&record).await
            }
            None => Ok(action),
        }
    }

    async fn save_existing(
        &self,
        current: Current,
        state: State,
        now: Timestamp,
    ) -> Result<CookieAction, SessionError> {
        let store = &self.shared.store;
        let key = current.id.store_key();
        let deadline = self.shared.deadline(current.created_at, now);
        let persistent = state.pending.persistent.unwrap_or(current.persistent);
        let reissue = |id: SessionId, expires_at| CookieAction::Issue {
            id,
            expires_at,
            persistent,
        };
        // Switching "remember me" off must replace the persistent cookie with a session one.
        let flipped = persistent != current.persistent;
        let keep_or_reissue = |id: SessionId, expires_at| {
            if persistent || current.by_older_key || flipped {
                reissue(id, expires_at)
            } else {
                CookieAction::Keep
            }
        };

        if state.regenerate {
            let record = Record {
                data: state.data,
                created_at: current.created_at,
                expires_at: deadline,
                user: state.pending.user.unwrap_or(current.user),
                authenticated_at: None,
                persistent,
                version: current.version + 1,
            };
            let action = self.create_with_fresh_id(&record).await?;
            store.delete(&key).await?;
            return Ok(action);
        }

        if !state.pending.is_empty() {
            let (pending, mut data) = (state.pending, state.data);
            // Move, not copy, the written values out of the working data.
            let set = pending
                .set
                .into_iter()
                .filter_map(|k| data.remove(&k).map(|v| (k, v)));
            let changes = Changeset {
                set: set.collect(),
                removed: pending.removed,
                cleared: pending.cleared,
                expires_at: deadline,
                user: pending.user,
                persistent: pending.persistent,
                authenticated_at: None,
                began_at: now,
            };
            let expected = match self.shared.config.conflict_policy {
                ConflictPolicy::Merge => None,
                ConflictPolicy::Strict => Some(current.version),
            };
            return match store.apply(&key, &changes, expected).await? {
                ApplyOutcome::Applied(_) => Ok(keep_or_reissue(current.id, deadline)),
                // Deleted meanwhile (e.g. a concurrent logout): never resurrect it.
                ApplyOutcome::Missing => Ok(CookieAction::Expire),
                ApplyOutcome::Conflict => Err(SessionError::Conflict),
            };
        }

        if self.touch_due(&current, deadline, now) {
            return Ok(if store.touch(&key, deadline).await? {
                keep_or_reissue(current.id, deadline)
            } else {
                CookieAction::Expire
            });
        }
        Ok(if current.by_older_key {
            reissue(current.id, current.expires_at)
        } else {
            CookieAction::Keep
        })
    }

    /// Whether an unmodified session's deadline should be pushed back now: only when
    /// idle expiry is on, the deadline would move, and the last push is `touch_after` old.
    fn touch_due(&self, current: &Current, deadline: Timestamp, now: Timestamp) -> bool {
        let Some(idle) = self.shared.config.idle_timeout else {
            return false;
        };
        let last_activity = current.expires_at.sub(idle);
        deadline > current.expires_at && last_activity.add(self.shared.config.touch_after) <= now
    }

    async fn create_with_fresh_id(&self, record: &Record) -> Result<CookieAction, SessionError> {
        // 256-bit ids do not collide in practice; the loop makes "never overwrite" hold
        // even against a broken random source.
        for _ in 0..3 {
            let id = SessionId::generate();
            if self.shared.store.create(&id.store_key(), record).await? == CreateOutcome::Created {
                let (expires_at, persistent) = (record.expires_at, record.persistent);
                return Ok(CookieAction::Issue {
                    id,
                    expires_at,
                    persistent,
                });
            }
        }
        Err(StoreError::backend("no free session id after 3 attempts").into())
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync + Clone>() {}
    is::<Session>();
    is::<SessionManager>();
    let _: Option<Verified> = None;
}
