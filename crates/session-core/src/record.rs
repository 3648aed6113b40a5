//! What a store keeps for one session, and what one request changed.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{RawJson, Timestamp};

/// A session's data: string keys to JSON values, kept as their text until read.
pub type Data = BTreeMap<String, RawJson>;

/// One stored session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The application's data.
    pub data: Data,
    /// When the session was first created; the absolute timeout counts from here.
    pub created_at: Timestamp,
    /// The idle deadline, already capped by the absolute deadline. Stores never return a
    /// record whose deadline has passed.
    pub expires_at: Timestamp,
    /// The principal this session belongs to, for the per-user index.
    pub user: Option<String>,
    /// When `user` was signed in (the start of the request that bound it); `None` without
    /// a user.
    pub authenticated_at: Option<Timestamp>,
    /// Whether the cookie outlives the browser session ("remember me").
    pub persistent: bool,
    /// Bumped by every write; strict mode compares it.
    pub version: u64,
    /// When a request last saved (`apply`, `rotate`: the changeset's `began_at`) or
    /// touched (`touch`: the store's now) this session; no write of its own.
    pub last_seen: Timestamp,
    /// The application's label for this session ("Firefox on Linux"), shown on an
    /// account page; at most [`crate::MAX_LABEL_BYTES`].
    pub label: Option<String>,
}

impl Record {
    /// A fresh record at version 1 with no data and no user.
    pub fn new(created_at: Timestamp, expires_at: Timestamp, persistent: bool) -> Self {
        Self {
            data: Data::new(),
            created_at,
            expires_at,
            user: None,
            authenticated_at: None,
            persistent,
            version: 1,
            last_seen: created_at,
            label: None,
        }
    }

    /// Whether the idle deadline has passed at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at <= now
    }

    /// This record with `changes` applied and the version bumped: the reference semantics
    /// every store's `apply` must match.
    pub fn apply(&mut self, changes: &Changeset) {
        if changes.cleared {
            self.data.clear();
        }
        for key in &changes.removed {
            self.data.remove(key);
        }
        for (key, value) in &changes.set {
            self.data.insert(key.clone(), value.clone());
        }
        if !changes.keeps_deadline {
            self.expires_at = changes.expires_at;
        }
        if let Some(user) = &changes.user {
            self.user.clone_from(user);
            self.authenticated_at = changes.authenticated_at.filter(|_| user.is_some());
        }
        if let Some(persistent) = changes.persistent {
            self.persistent = persistent;
        }
        if let Some(label) = &changes.label {
            self.label.clone_from(label);
        }
        self.last_seen = changes.began_at;
        self.version += 1;
    }
}

/// What one request did to a session. Only dirty keys travel to the store.
///
/// Order of application: `cleared` first, then `removed`, then `set`, so a key that was
/// removed and set again ends up set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Changeset {
    /// Keys written, with their new values.
    pub set: Data,
    /// Keys deleted.
    pub removed: BTreeSet<String>,
    /// Whether every key was dropped before `set` is applied.
    pub cleared: bool,
    /// The new idle deadline.
    pub expires_at: Timestamp,
    /// Whether the manager left the deadline where it was (a write inside `touch_after`
    /// of the last move: `expires_at` is the deadline as loaded). A store may then leave
    /// its stored deadline, and any index on it, untouched; one that writes `expires_at`
    /// anyway is correct too.
    pub keeps_deadline: bool,
    /// `Some(new)` when the principal changed (`Some(None)`: signed out of the index).
    pub user: Option<Option<String>>,
    /// With `user`: when the new principal signed in; replaces the stored
    /// `authenticated_at` whenever `user` is `Some`.
    pub authenticated_at: Option<Timestamp>,
    /// When the request that produced these changes began: the revocation rule of
    /// [`crate::SessionStore`] compares it with a user's latest revocation.
    pub began_at: Timestamp,
    /// `Some(p)` when "remember me" changed.
    pub persistent: Option<bool>,
    /// `Some(new)` when the label changed (`Some(None)`: removed).
    pub label: Option<Option<String>>,
    /// What the request loaded, when the changes were computed from a loaded session (the
    /// manager always sets it; `None` for a changeset built by hand). Stores that apply
    /// the diff key by key ignore it.
    pub base: Option<Base>,
}

/// The session a [`Changeset`] was computed from: the stored version the request loaded
/// and every key it left as loaded.
///
/// `unchanged` ∪ `set` is the whole data after the change. A store that keeps the data as
/// one value (the Redis store) writes that whole value when its stored version is still
/// `version`, and otherwise applies `cleared`, `removed` and `set` to the data it finds,
/// so a concurrent writer of other keys never loses them. `unchanged` is moved out of the
/// request's working data, not copied.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Base {
    /// The version the request loaded.
    pub version: u64,
    /// The loaded keys the request neither set nor removed (empty after a `clear`).
    pub unchanged: Data,
}

impl Changeset {
    /// An empty changeset that only moves the deadline, begun now.
    pub fn new(expires_at: Timestamp) -> Self {
        Self {
            expires_at,
            began_at: Timestamp::now(),
            ..Self::default()
        }
    }

    /// Whether the data changes at all (a `clear`, a removed or a set key).
    pub fn writes_data(&self) -> bool {
        self.cleared || !self.removed.is_empty() || !self.set.is_empty()
    }

    /// The user this changeset binds the session to, if it binds one (the subject of the
    /// revocation rule).
    pub fn binds_user(&self) -> Option<&str> {
        self.user.as_ref()?.as_deref()
    }
}

impl Default for Timestamp {
    fn default() -> Self {
        Timestamp::from_millis(0)
    }
}
