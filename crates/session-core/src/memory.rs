//! A bounded in-process store: for tests, examples and single-process apps.
//!
//! Unlike express-session's MemoryStore it cannot grow without limit: it holds at most
//! `max_entries` sessions and `max_bytes` of data. When full it evicts expired sessions
//! first, then anonymous ones, then signed-in ones (soonest to expire first), so a flood of
//! anonymous writes cannot sign users out; a sweeper task removes expired sessions on its
//! own. It is not shared
//! between processes: use a database-backed store in production.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;

use crate::session::json_text::entry_bytes;
use crate::store_contract::REVOCATION_HORIZON;
use crate::{
    ApplyOutcome, Changeset, CreateOutcome, PageRequest, Record, RotateOutcome, SessionPage,
    SessionStore, SessionSummary, StoreError, StoreKey, Timestamp, cleanup::spawn_cleanup,
};

/// Limits of a [`MemoryStore`].
#[derive(Debug, Clone, Copy)]
pub struct MemoryLimits {
    /// Most sessions held at once.
    pub max_entries: usize,
    /// Most bytes of serialized session data held at once (approximate: keys + JSON).
    pub max_bytes: usize,
    /// How often the sweeper removes expired sessions.
    pub sweep_every: Duration,
}

impl Default for MemoryLimits {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            max_bytes: 256 << 20,
            sweep_every: Duration::from_secs(1),
        }
    }
}

/// The bounded in-memory [`SessionStore`].
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    limits: MemoryLimits,
}

struct Entry {
    record: Record,
    bytes: usize,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<StoreKey, Entry>,
    /// Every entry by deadline: sweeping and eviction take from the front.
    by_deadline: BTreeSet<(Timestamp, StoreKey)>,
    /// The anonymous entries (no user) by deadline: evicted before any signed-in one, so
    /// a flood of anonymous writes cannot push signed-in users out.
    anonymous: BTreeSet<(Timestamp, StoreKey)>,
    by_user: HashMap<String, HashSet<StoreKey>>,
    /// Each user's latest revocation: when, and the session it kept.
    revocations: HashMap<String, (Timestamp, Option<StoreKey>)>,
    bytes: usize,
}

impl MemoryStore {
    /// A store with the given limits. Inside a tokio runtime it also starts the sweeper,
    /// which stops when the last clone of the store is dropped.
    pub fn new(limits: MemoryLimits) -> Self {
        static TOLD: std::sync::Once = std::sync::Once::new();
        TOLD.call_once(|| {
            tracing::warn!(
                target: "session_core",
                max_entries = limits.max_entries,
                max_bytes = limits.max_bytes,
                "sessions are kept in this process's memory (MemoryStore): bounded, but lost \
                 on restart and not shared with other processes; use a database store in \
                 production"
            );
        });
        let store = Self {
            inner: Arc::default(),
            limits,
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            let sweep = |inner: Arc<Mutex<Inner>>| async move {
                let mut guard = inner.lock().unwrap_or_else(|e| e.into_inner());
                let now = Timestamp::now();
                let horizon = now.sub(REVOCATION_HORIZON);
                guard.revocations.retain(|_, (at, _)| *at > horizon);
                Ok(guard.remove_expired(now, usize::MAX))
            };
            spawn_cleanup(Arc::downgrade(&store.inner), limits.sweep_every, sweep);
        }
        store
    }

    /// A store holding at most `max_entries` sessions, other limits default.
    pub fn with_max_entries(max_entries: usize) -> Self {
        Self::new(MemoryLimits {
            max_entries,
            ..MemoryLimits::default()
        })
    }

    /// How many sessions are held, expired ones not yet swept included.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate bytes of session data held.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // breaks memory safety; keep serving rather than poisoning every later request.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("MemoryStore")
            .field("sessions", &inner.entries.len())
            .field("bytes", &inner.bytes)
            .field("limits", &self.limits)
            .finish()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(MemoryLimits::default())
    }
}

fn record_bytes(key: &StoreKey, record: &Record) -> usize {
    meta_bytes(key, record)
        + record
            .data
            .iter()
            .map(|(k, v)| entry_bytes(k, v))
            .sum::<usize>()
}

/// What a record costs besides its data.
fn meta_bytes(key: &StoreKey, record: &Record) -> usize {
    key.as_str().len()
        + record.user.as_ref().map_or(0, String::len)
        + record.label.as_ref().map_or(0, String::len)
        + 64
}

/// Applies `changes` to `record` (which cost `bytes` under `from`) and returns what it
/// costs under `to` afterwards, counting only the keys the changeset names: a write of
/// one key to a large session does not re-measure the others.
fn apply_counted(
    record: &mut Record,
    bytes: usize,
    from: &StoreKey,
    to: &StoreKey,
    changes: &Changeset,
) -> usize {
    let mut data = bytes.saturating_sub(meta_bytes(from, record));
    if changes.cleared {
        data = 0;
    } else {
        let touched = changes
            .removed
            .iter()
            .filter(|k| !changes.set.contains_key(*k))
            .chain(changes.set.keys());
        for k in touched {
            if let Some(old) = record.data.get(k) {
                data = data.saturating_sub(entry_bytes(k, old));
            }
        }
    }
    data += changes
        .set
        .iter()
        .map(|(k, v)| entry_bytes(k, v))
        .sum::<usize>();
    record.apply(changes);
    meta_bytes(to, record) + data
}

impl Inner {
    fn live(&self, key: &StoreKey, now: Timestamp) -> Option<&Entry> {
        self.entries.get(key).filter(|e| !e.record.is_expired(now))
    }

    /// The revocation rule: whether `user` was revoked after `began_at`, other than by a
    /// revocation that kept `from`.
    fn revoked(&self, user: &str, began_at: Timestamp, from: Option<&StoreKey>) -> bool {
        self.revocations
            .get(user)
            .is_some_and(|(at, kept)| *at > began_at && (from.is_none() || kept.as_ref() != from))
    }

    fn insert(&mut self, key: StoreKey, record: Record, bytes: usize) {
        self.by_deadline.insert((record.expires_at, key.clone()));
        if record.user.is_none() {
            self.anonymous.insert((record.expires_at, key.clone()));
        }
        if let Some(user) = &record.user {
            self.by_user
                .entry(user.clone())
                .or_default()
                .insert(key.clone());
        }
        self.bytes += bytes;
        self.entries.insert(key, Entry { record, bytes });
    }

    fn remove(&mut self, key: &StoreKey) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        let slot = (entry.record.expires_at, key.clone());
        self.by_deadline.remove(&slot);
        self.anonymous.remove(&slot);
        if let Some(user) = &entry.record.user
            && let Some(keys) = self.by_user.get_mut(user)
        {
            keys.remove(key);
            if keys.is_empty() {
                self.by_user.remove(user);
            }
        }
        self.bytes -= entry.bytes;
        Some(entry)
    }

    fn remove_expired(&mut self, now: Timestamp, limit: usize) -> u64 {
        let mut removed = 0;
        while removed < limit as u64 {
            let Some((deadline, key)) = self.by_deadline.first().cloned() else {
                break;
            };
            if deadline > now {
                break;
            }
            self.remove(&key);
            removed += 1;
        }
        removed
    }

    /// Makes room for `bytes` more: expired entries first, then anonymous ones, then
    /// signed-in ones, each soonest-to-expire first. Nothing is removed while there is room
    /// (the sweeper and `delete_expired` take the expired ones).
    fn make_room(&mut self, limits: &MemoryLimits, bytes: usize, now: Timestamp) {
        let full = |inner: &Self| {
            !inner.entries.is_empty()
                && (inner.entries.len() >= limits.max_entries
                    || inner.bytes + bytes > limits.max_bytes)
        };
        while full(self) {
            let expired = self.by_deadline.first().filter(|(at, _)| *at <= now);
            let victim = expired
                .or_else(|| self.anonymous.first())
                .or_else(|| self.by_deadline.first())
                .map(|(_, key)| key.clone());
            let Some(key) = victim else {
                break;
            };
            self.remove(&key);
        }
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        Ok(self
            .lock()
            .live(key, Timestamp::now())
            .map(|e| e.record.clone()))
    }

    async fn create(&self, key: &StoreKey, record: &Record) -> Result<CreateOutcome, StoreError> {
        let now = Timestamp::now();
        let bytes = record_bytes(key, record);
        let mut inner = self.lock();
        if inner.live(key, now).is_some() {
            return Ok(CreateOutcome::AlreadyExists);
        }
        if let Some(user) = &record.user {
            let since = record.authenticated_at.unwrap_or(record.created_at);
            if inner.revoked(user, since, None) {
                return Ok(CreateOutcome::Revoked);
            }
        }
        inner.remove(key);
        inner.make_room(&self.limits, bytes, now);
        inner.insert(key.clone(), record.clone(), bytes);
        Ok(CreateOutcome::Created)
    }

    async fn apply(
        &self,
        key: &StoreKey,
        changes: &Changeset,
        expected_version: Option<u64>,
    ) -> Result<ApplyOutcome, StoreError> {
        let now = Timestamp::now();
        let mut inner = self.lock();
        let Some(current) = inner.live(key, now) else {
            return Ok(ApplyOutcome::Missing);
        };
        if expected_version.is_some_and(|v| v != current.record.version) {
            return Ok(ApplyOutcome::Conflict);
        }
        if let Some(user) = changes.binds_user()
            && inner.revoked(user, changes.began_at, Some(key))
        {
            return Ok(ApplyOutcome::Missing);
        }
        let Some(Entry { mut record, bytes }) = inner.remove(key) else {
            return Ok(ApplyOutcome::Missing);
        };
        let bytes = apply_counted(&mut record, bytes, key, key, changes);
        let version = record.version;
        inner.make_room(&self.limits, bytes, now);
        inner.insert(key.clone(), record, bytes);
        Ok(ApplyOutcome::Applied(version))
    }

    async fn rotate(
        &self,
        from: &StoreKey,
        to: &StoreKey,
        changes: &Changeset,
        expected_version: Option<u64>,
    ) -> Result<RotateOutcome, StoreError> {
        let now = Timestamp::now();
        let mut inner = self.lock();
        let Some(current) = inner.live(from, now) else {
            return Ok(RotateOutcome::Missing);
        };
        if expected_version.is_some_and(|v| v != current.record.version) {
            return Ok(RotateOutcome::Conflict);
        }
        if inner.live(to, now).is_some() {
            return Ok(RotateOutcome::KeyTaken);
        }
        let owner = match &changes.user {
            Some(user) => user.as_deref(),
            None => current.record.user.as_deref(),
        };
        if owner.is_some_and(|user| inner.revoked(user, changes.began_at, Some(from))) {
            inner.remove(from);
            return Ok(RotateOutcome::Missing);
        }
        let Some(Entry { mut record, bytes }) = inner.remove(from) else {
            return Ok(RotateOutcome::Missing);
        };
        let bytes = apply_counted(&mut record, bytes, from, to, changes);
        let version = record.version;
        inner.remove(to);
        inner.make_room(&self.limits, bytes, now);
        inner.insert(to.clone(), record, bytes);
        Ok(RotateOutcome::Rotated(version))
    }

    async fn touch(&self, key: &StoreKey, expires_at: Timestamp) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        if inner.live(key, Timestamp::now()).is_none() {
            return Ok(false);
        }
        let Some(Entry { mut record, bytes }) = inner.remove(key) else {
            return Ok(false);
        };
        record.expires_at = expires_at;
        record.last_seen = Timestamp::now();
        inner.insert(key.clone(), record, bytes);
        Ok(true)
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.lock().remove(key);
        Ok(())
    }

    async fn delete_expired(&self) -> Result<u64, StoreError> {
        Ok(self.lock().remove_expired(Timestamp::now(), usize::MAX))
    }

    async fn sessions_of(&self, user: &str, page: &PageRequest) -> Result<SessionPage, StoreError> {
        let now = Timestamp::now();
        let inner = self.lock();
        let Some(keys) = inner.by_user.get(user) else {
            return Ok(SessionPage::default());
        };
        let summaries = keys
            .iter()
            .filter_map(|k| inner.live(k, now).map(|e| summary(k, &e.record)))
            .collect();
        Ok(page.page_of(summaries))
    }

    async fn delete_session_of(&self, user: &str, key: &StoreKey) -> Result<bool, StoreError> {
        let now = Timestamp::now();
        let mut inner = self.lock();
        let owned = inner
            .entries
            .get(key)
            .is_some_and(|e| e.record.user.as_deref() == Some(user));
        if !owned {
            return Ok(false);
        }
        Ok(inner
            .remove(key)
            .is_some_and(|entry| !entry.record.is_expired(now)))
    }

    async fn trim_sessions_of(
        &self,
        user: &str,
        keep: &StoreKey,
        max: usize,
    ) -> Result<u64, StoreError> {
        let now = Timestamp::now();
        let mut inner = self.lock();
        let Some(keys) = inner.by_user.get(user) else {
            return Ok(0);
        };
        let mut others: Vec<(Timestamp, StoreKey)> = keys
            .iter()
            .filter(|k| *k != keep)
            .filter_map(|k| inner.live(k, now).map(|e| (e.record.last_seen, k.clone())))
            .collect();
        others.sort_by(|a, b| b.cmp(a));
        let doomed = others.split_off(others.len().min(max.saturating_sub(1)));
        for (_, key) in &doomed {
            inner.remove(key);
        }
        Ok(doomed.len() as u64)
    }

    async fn delete_sessions_of(
        &self,
        user: &str,
        except: Option<&StoreKey>,
    ) -> Result<u64, StoreError> {
        let now = Timestamp::now();
        let mut inner = self.lock();
        inner
            .revocations
            .insert(user.to_owned(), (now, except.cloned()));
        let Some(keys) = inner.by_user.get(user) else {
            return Ok(0);
        };
        let doomed: Vec<StoreKey> = keys
            .iter()
            .filter(|k| Some(*k) != except)
            .cloned()
            .collect();
        let mut n = 0;
        for key in doomed {
            if let Some(entry) = inner.remove(&key) {
                n += u64::from(!entry.record.is_expired(now));
            }
        }
        Ok(n)
    }
}

/// The index entry of a stored record.
fn summary(key: &StoreKey, record: &Record) -> SessionSummary {
    SessionSummary {
        key: key.clone(),
        created_at: record.created_at,
        expires_at: record.expires_at,
        last_seen: record.last_seen,
        authenticated_at: record.authenticated_at,
        label: record.label.clone(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use crate::RawJson;

    use super::*;

    fn changeset() -> impl Strategy<Value = Changeset> {
        let key = prop::sample::select(vec!["a", "b", "c", "quote\"d"]);
        let value = prop_oneof![
            Just(json!(null)),
            any::<i64>().prop_map(|n| json!(n)),
            ".{0,40}".prop_map(|s| json!(s)),
            prop::collection::vec(".{0,8}", 0..4).prop_map(|v| json!(v)),
        ];
        (
            prop::collection::btree_map(key.clone().prop_map(str::to_owned), value, 0..3),
            prop::collection::btree_set(key.prop_map(str::to_owned), 0..3),
            prop::bool::weighted(0.1),
            prop::option::of(prop::option::of("[a-z]{0,12}")),
            prop::option::of(prop::option::of("[a-z]{0,12}")),
        )
            .prop_map(|(set, removed, cleared, user, label)| Changeset {
                set: set
                    .iter()
                    .map(|(k, v)| (k.clone(), RawJson::from(v)))
                    .collect(),
                removed,
                cleared,
                user,
                label,
                ..Changeset::default()
            })
    }

    proptest! {
        /// The running count a write keeps equals a full recount of the record it leaves.
        #[test]
        fn counted_bytes_match_a_recount(writes in prop::collection::vec(changeset(), 1..12)) {
            let from = StoreKey::plain_sid("from");
            let to = StoreKey::plain_sid("a-longer-to-key");
            let mut record = Record::new(Timestamp::from_millis(1), Timestamp::from_millis(2), false);
            let mut bytes = record_bytes(&from, &record);
            let mut key = &from;
            for (i, changes) in writes.iter().enumerate() {
                let next = if i % 3 == 2 { &to } else { key };
                bytes = apply_counted(&mut record, bytes, key, next, changes);
                key = next;
                prop_assert_eq!(bytes, record_bytes(key, &record));
            }
        }
    }
}
