//! The request lifecycle every adapter drives: [`SessionManager::start`] with the request's
//! Cookie headers, the handler runs, [`SessionManager::finish`] saves what changed and says
//! which headers to add. Every decision is here, so all frameworks behave identically.

use std::sync::Arc;

use crate::codec::Verified;
use crate::config::{ConflictPolicy, SessionConfig};
use crate::cookie_header::candidates;
use crate::observe::store_call;
use crate::response::{HeaderPatch, Lifetime, ResponseInfo, set_cookie};
use crate::session::{Current, State};
use crate::transport::{Transport, Via};
use crate::{
    ApplyOutcome, Base, Changeset, CreateOutcome, Record, RequestInfo, RotateOutcome, Session,
    SessionError, SessionId, SessionStore, StoreError, Timestamp,
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
    /// Nothing to send (but see a dead token in `finish`).
    Keep,
    Issue {
        id: SessionId,
        expires_at: Timestamp,
        persistent: bool,
    },
    Expire,
}

/// The end of a save: the cookie to send, whether the session left is signed in, and the
/// error that must replace the handler's response, if any. A failed save can still carry
/// a cookie: a logout whose delete failed expires the cookie all the same.
struct Saved {
    action: CookieAction,
    signed_in: bool,
    error: Option<SessionError>,
}

impl Saved {
    fn ok(action: CookieAction, signed_in: bool) -> Self {
        Self {
            action,
            signed_in,
            error: None,
        }
    }

    fn failed(error: SessionError) -> Self {
        Self {
            action: CookieAction::Expire,
            signed_in: false,
            error: Some(error),
        }
    }
}

/// What a save of a stored session must do, read before the stored session is taken out
/// of the request's state.
struct Why {
    /// The id moves (regenerate, or a change of principal).
    rotates: bool,
    /// A user is signed in once the save is done.
    signed_in: bool,
}

/// A save that failed: answer `status` instead of the handler's response, with `headers`
/// (an expiring cookie when the failure was a logout or rotation).
#[derive(Debug)]
#[must_use]
pub struct SaveFailure {
    /// What went wrong.
    pub error: SessionError,
    /// The headers the error response still needs.
    pub headers: HeaderPatch,
}

impl std::fmt::Display for SaveFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "saving the session failed: {}", self.error)
    }
}

impl std::error::Error for SaveFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl SaveFailure {
    /// The status to answer with ([`SessionError::status_code`]).
    pub fn status_code(&self) -> u16 {
        self.error.status_code()
    }
}

/// Drives sessions for one store and configuration. Cheap to clone.
#[derive(Clone)]
pub struct SessionManager {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionManager")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
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
    ///
    /// This knows nothing of the request but its cookies, so the CSRF guard cannot refuse
    /// it: adapters call [`start_request`](Self::start_request).
    pub fn start<'a>(&self, cookie_headers: impl IntoIterator<Item = &'a [u8]>) -> Session {
        self.start_request(cookie_headers, std::iter::empty(), &RequestInfo::default())
    }

    /// [`start`](Self::start) as adapters call it: also the raw values of the request's
    /// [`token_header`](SessionConfig::token_header) (none when that is `None`) and what
    /// the CSRF guard reads of the request. Which credential is used follows the
    /// [`Transport`](crate::Transport). When the guard refuses (an unsafe method from
    /// another site, on a request that did not come by token), every session access of
    /// the handler fails with [`SessionError::CsrfRefused`] and [`finish`](Self::finish)
    /// answers 403 if the handler tried one; a handler that never touches the session is
    /// unaffected.
    pub fn start_request<'a, 'b>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a [u8]>,
        token_headers: impl IntoIterator<Item = &'b [u8]>,
        request: &RequestInfo<'_>,
    ) -> Session {
        let config = &self.shared.config;
        let token = match config.transport {
            Transport::Cookie => None,
            _ => config
                .token_headers
                .token(token_headers, config.max_cookie_header_bytes),
        };
        let (found, via) = match (token, config.transport) {
            (Some(token), _) => (vec![token], Via::Header),
            (None, Transport::Header) => (Vec::new(), Via::Neither),
            (None, _) => {
                let found: Vec<String> = candidates(
                    cookie_headers,
                    &config.cookie.name,
                    config.max_cookie_header_bytes,
                    config.codec.max_value_len(),
                )
                .into_iter()
                .map(str::to_owned)
                .collect();
                let via = if found.is_empty() {
                    Via::Neither
                } else {
                    Via::Cookie
                };
                (found, via)
            }
        };
        // A browser never attaches a token header by itself: a token request is no CSRF.
        let refused = match via {
            Via::Header => None,
            Via::Cookie | Via::Neither => config.csrf.check(request).err(),
        };
        Session::new(self.shared.clone(), found, via, refused)
    }

    /// Ends a request: saves what the handler changed (at most one write in the common
    /// case) and returns the headers to change. On error the adapter must not send the
    /// handler's response as if it had succeeded: it answers
    /// [`SaveFailure::status_code`] with [`SaveFailure::headers`].
    ///
    /// When the handler answered 5xx (and `save_on_server_error` is off), its data changes
    /// are dropped, but a `destroy` still deletes and a rotation still ends the old id.
    pub async fn finish(
        &self,
        session: &Session,
        response: ResponseInfo,
    ) -> Result<HeaderPatch, SaveFailure> {
        let state = session.take_state().await;
        if state.refused_access {
            // Nothing the handler did is saved; its answer is replaced by a 403.
            return Err(SaveFailure {
                error: SessionError::CsrfRefused(
                    session
                        .csrf_refusal()
                        .unwrap_or(crate::CsrfRefusal::CrossSite),
                ),
                headers: HeaderPatch::none(),
            });
        }
        if !state.accessed {
            return Ok(HeaderPatch::none());
        }
        let server_error = response.status >= 500 && !self.shared.config.save_on_server_error;
        // A token that named no live session: the client is told to drop it.
        let dead_token = session.via() == Via::Header && state.loaded && state.current.is_none();
        let saved = self.save(state, session.began_at(), server_error).await;
        let config = &self.shared.config;
        let (to_cookie, to_header) = match session.via() {
            Via::Cookie => (true, false),
            Via::Header => (false, true),
            Via::Neither => (
                config.transport != Transport::Header,
                config.transport != Transport::Cookie,
            ),
        };
        let (value, lifetime) = match saved.action {
            CookieAction::Keep if dead_token => (Some(String::new()), Lifetime::Expired),
            CookieAction::Keep => (None, Lifetime::Expired),
            CookieAction::Expire => (Some(String::new()), Lifetime::Expired),
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
                (Some(config.codec.encode(&id)), lifetime)
            }
        };
        // (A dead token implies the header way, so it never expires a cookie.)
        let set_cookie = value
            .clone()
            .filter(|_| to_cookie)
            .map(|v| set_cookie(config, v, lifetime));
        let token = value.filter(|_| to_header);
        let no_store = saved.signed_in && config.no_store_when_signed_in;
        let headers = HeaderPatch::new(set_cookie, token, no_store, &response, config);
        match saved.error {
            None => Ok(headers),
            Some(error) => Err(SaveFailure { error, headers }),
        }
    }

    /// [`finish`](Self::finish) as adapters use it: on error the failure is logged (the
    /// client never sees its text) and the status to answer with comes with the headers.
    pub async fn finish_or_status(
        &self,
        session: &Session,
        response: ResponseInfo,
    ) -> Result<HeaderPatch, (u16, HeaderPatch)> {
        self.finish(session, response).await.map_err(|failure| {
            if matches!(failure.error, SessionError::CsrfRefused(_)) {
                // A refusal, not a failure: the guard already said why (info).
            } else {
                tracing::error!(error = %failure.error, "saving the session failed");
            }
            (failure.status_code(), failure.headers)
        })
    }

    async fn save(&self, mut state: State, began_at: Timestamp, server_error: bool) -> Saved {
        let store = &self.shared.store;
        let mut action = CookieAction::Keep;
        if let Some(key) = state.destroyed.take() {
            if let Err(e) = store_call("delete", store.delete(&key), |()| "deleted").await {
                return Saved::failed(e.into());
            }
            action = CookieAction::Expire;
        }
        let now = Timestamp::now();
        // Both read the stored session, so before it is taken out of the state.
        let signed_in = state.user().is_some();
        let rotates = state.rotates();
        match state.current.take() {
            Some(current) if server_error => {
                if !rotates {
                    return Saved::ok(action, current.user.is_some());
                }
                // The handler failed: none of its changes are saved, but the old id ends.
                let stored_user = current.user.is_some();
                let deadline = self.shared.deadline(current.created_at, now);
                let mut changes = Changeset::new(deadline);
                changes.began_at = began_at;
                let persistent = current.persistent;
                self.rotate(&current, &changes, None, persistent, stored_user)
                    .await
            }
            Some(current) => {
                let why = Why { rotates, signed_in };
                self.save_existing(current, state, why, began_at, now).await
            }
            None if server_error => Saved::ok(action, false),
            None if !state.pending.is_empty()
                || (self.shared.config.save_uninitialized
                    && state.loaded
                    && state.data.is_empty()) =>
            {
                let user = state.pending.user.flatten();
                let record = Record {
                    expires_at: self.shared.deadline(now, now),
                    authenticated_at: user.as_ref().map(|_| began_at),
                    user,
                    persistent: state
                        .pending
                        .persistent
                        .unwrap_or(self.shared.config.persistent),
                    data: state.data,
                    created_at: now,
                    version: 1,
                    last_seen: now,
                    label: state.pending.label.flatten(),
                };
                match self.create_with_fresh_id(&record).await {
                    Ok(action) => {
                        if let (Some(user), CookieAction::Issue { id, .. }) =
                            (&record.user, &action)
                        {
                            self.enforce_cap(user, id).await;
                        }
                        Saved::ok(action, signed_in)
                    }
                    // No id existed yet, so there is no cookie to take back.
                    Err(e) => Saved {
                        action,
                        signed_in: false,
                        error: Some(e),
                    },
                }
            }
            None => Saved::ok(action, false),
        }
    }

    async fn save_existing(
        &self,
        current: Current,
        state: State,
        Why { rotates, signed_in }: Why,
        began_at: Timestamp,
        now: Timestamp,
    ) -> Saved {
        let store = &self.shared.store;
        let key = current.key.clone();
        let deadline = self.shared.deadline(current.created_at, now);
        let persistent = state.pending.persistent.unwrap_or(current.persistent);
        let expected = match self.shared.config.conflict_policy {
            ConflictPolicy::Merge => None,
            ConflictPolicy::Strict => Some(current.version),
        };
        // Switching "remember me" off must replace the persistent cookie with a session one.
        let flipped = persistent != current.persistent;
        let keep_or_reissue = |id: SessionId, expires_at| {
            if persistent || current.by_older_key || flipped {
                CookieAction::Issue {
                    id,
                    expires_at,
                    persistent,
                }
            } else {
                CookieAction::Keep
            }
        };

        if rotates || !state.pending.is_empty() {
            // A write moves the deadline no more often than a touch would (`touch_after`),
            // so a store that keeps the deadline apart from the data (Redis' `PEXPIREAT`,
            // the user index's horizon) rewrites it once per window, not once per write.
            // A rotation writes a new record, and a deadline that shrank always goes in.
            let keep = !rotates
                && deadline >= current.expires_at
                && !self.touch_due(&current, deadline, now);
            let deadline = if keep { current.expires_at } else { deadline };
            let (pending, mut data) = (state.pending, state.data);
            let authenticated_at = matches!(pending.user, Some(Some(_))).then_some(began_at);
            // Move, not copy, the written values out of the working data.
            let set = pending
                .set
                .into_iter()
                .filter_map(|k| data.remove(&k).map(|v| (k, v)));
            let set = set.collect();
            let changes = Changeset {
                set,
                removed: pending.removed,
                cleared: pending.cleared,
                expires_at: deadline,
                keeps_deadline: keep,
                user: pending.user,
                persistent: pending.persistent,
                authenticated_at,
                began_at,
                label: pending.label,
                // What is left of the working data is what the request did not touch.
                base: Some(Base {
                    version: current.version,
                    unchanged: data,
                }),
            };
            if rotates {
                return self
                    .rotate(&current, &changes, expected, persistent, signed_in)
                    .await;
            }
            let applied = store_call(
                "apply",
                store.apply(&key, &changes, expected),
                |o| match o {
                    ApplyOutcome::Applied(_) => "applied",
                    ApplyOutcome::Missing => "missing",
                    ApplyOutcome::Conflict => "conflict",
                },
            );
            return match applied.await {
                Ok(ApplyOutcome::Applied(_)) => {
                    Saved::ok(keep_or_reissue(current.id, deadline), signed_in)
                }
                // Deleted meanwhile (e.g. a concurrent logout): never resurrect it.
                Ok(ApplyOutcome::Missing) => Saved::ok(CookieAction::Expire, false),
                Ok(ApplyOutcome::Conflict) => {
                    tracing::info!(target: "session_core", "strict-mode conflict: 409");
                    Saved {
                        action: CookieAction::Keep,
                        signed_in,
                        error: Some(SessionError::Conflict),
                    }
                }
                Err(e) => Saved {
                    action: CookieAction::Keep,
                    signed_in,
                    error: Some(e.into()),
                },
            };
        }

        if self.touch_due(&current, deadline, now) {
            let touched = store_call("touch", store.touch(&key, deadline), |live| {
                if *live { "touched" } else { "missing" }
            });
            return match touched.await {
                Ok(true) => Saved::ok(keep_or_reissue(current.id, deadline), signed_in),
                Ok(false) => Saved::ok(CookieAction::Expire, false),
                Err(e) => Saved {
                    action: CookieAction::Keep,
                    signed_in,
                    error: Some(e.into()),
                },
            };
        }
        let action = if current.by_older_key {
            CookieAction::Issue {
                id: current.id,
                expires_at: current.expires_at,
                persistent: current.persistent,
            }
        } else {
            CookieAction::Keep
        };
        Saved::ok(action, signed_in)
    }

    /// Moves `current` to a fresh id with `changes` applied. If the old record is gone (a
    /// logout or revocation won), nothing is created and the cookie expires; if the store
    /// fails, the cookie expires too, since the old id may already be dead.
    async fn rotate(
        &self,
        current: &Current,
        changes: &Changeset,
        expected: Option<u64>,
        persistent: bool,
        signed_in: bool,
    ) -> Saved {
        let from = current.key.clone();
        // 256-bit ids do not collide in practice; the loop makes "never overwrite" hold
        // even against a broken random source.
        for _ in 0..3 {
            let id = self.shared.config.codec.generate_id();
            let to = id.store_key();
            let call = self.shared.store.rotate(&from, &to, changes, expected);
            let rotated = store_call("rotate", call, |o| match o {
                RotateOutcome::Rotated(_) => "rotated",
                RotateOutcome::Missing => "missing",
                RotateOutcome::Conflict => "conflict",
                RotateOutcome::KeyTaken => "key taken",
            });
            match rotated.await {
                Ok(RotateOutcome::Rotated(_)) => {
                    if let Some(user) = changes.binds_user() {
                        self.enforce_cap(user, &id).await;
                    }
                    let action = CookieAction::Issue {
                        id,
                        expires_at: changes.expires_at,
                        persistent,
                    };
                    return Saved::ok(action, signed_in);
                }
                Ok(RotateOutcome::KeyTaken) => continue,
                Ok(RotateOutcome::Missing) => {
                    tracing::info!(
                        target: "session_core",
                        "rotation found the session ended or revoked: nothing created"
                    );
                    return Saved::ok(CookieAction::Expire, false);
                }
                Ok(RotateOutcome::Conflict) => return Saved::failed(SessionError::Conflict),
                Err(e) => return Saved::failed(e.into()),
            }
        }
        Saved::failed(StoreError::backend("no free session id after 3 attempts").into())
    }

    /// After a login stored session `id` of `user`: with `max_sessions_per_user` set, signs
    /// the user's least recently seen sessions out beyond the cap. The login itself is
    /// done by now, so a store failure here is logged, not answered with an error (the
    /// next login trims again).
    async fn enforce_cap(&self, user: &str, id: &SessionId) {
        let Some(max) = self.shared.config.max_sessions_per_user else {
            return;
        };
        let key = id.store_key();
        let call = self.shared.store.trim_sessions_of(user, &key, max.get());
        let trimmed = store_call("trim_sessions_of", call, |n| {
            if *n == 0 { "within cap" } else { "evicted" }
        });
        if let Err(e) = trimmed.await {
            tracing::warn!(target: "session_core", error = %e, "could not enforce max_sessions_per_user");
        }
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
        for _ in 0..3 {
            let id = self.shared.config.codec.generate_id();
            let key = id.store_key();
            let call = self.shared.store.create(&key, record);
            let created = store_call("create", call, |o| match o {
                CreateOutcome::Created => "created",
                CreateOutcome::AlreadyExists => "already exists",
                CreateOutcome::Revoked => "revoked",
            });
            match created.await? {
                CreateOutcome::Created => {
                    let (expires_at, persistent) = (record.expires_at, record.persistent);
                    return Ok(CookieAction::Issue {
                        id,
                        expires_at,
                        persistent,
                    });
                }
                CreateOutcome::AlreadyExists => continue,
                // A login begun before its user's sessions were revoked.
                CreateOutcome::Revoked => return Ok(CookieAction::Expire),
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
