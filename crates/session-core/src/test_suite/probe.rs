//! A store wrapper for manager and adapter tests: counts calls per operation and can
//! simulate an outage. It wraps a real store; it never stands in for one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;

use crate::{
    ApplyOutcome, Changeset, CreateOutcome, PageRequest, Record, RotateOutcome, SessionPage,
    SessionStore, StoreError, StoreKey, Timestamp,
};

/// Calls per operation, as counted by a [`ProbeStore`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Calls {
    /// `load` calls.
    pub load: u64,
    /// `create` calls.
    pub create: u64,
    /// `apply` calls.
    pub apply: u64,
    /// `rotate` calls.
    pub rotate: u64,
    /// `touch` calls.
    pub touch: u64,
    /// `delete` calls.
    pub delete: u64,
    /// Every other call.
    pub other: u64,
}

impl Calls {
    /// All calls together.
    pub fn total(&self) -> u64 {
        self.load + self.writes() + self.other
    }
    /// Writes only (create, apply, rotate, touch, delete).
    pub fn writes(&self) -> u64 {
        self.create + self.apply + self.rotate + self.touch + self.delete
    }
}

#[derive(Default)]
struct Counters {
    load: AtomicU64,
    create: AtomicU64,
    apply: AtomicU64,
    rotate: AtomicU64,
    touch: AtomicU64,
    delete: AtomicU64,
    other: AtomicU64,
    down: AtomicBool,
}

/// Wraps a store, counting calls; [`set_down`](Self::set_down) makes every call fail with
/// [`StoreError::Unavailable`], as an outage would. Clones share counters.
#[derive(Clone)]
pub struct ProbeStore<S> {
    inner: Arc<S>,
    counters: Arc<Counters>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for ProbeStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeStore")
            .field("inner", &self.inner)
            .field("down", &self.counters.down.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl<S: SessionStore> ProbeStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner: Arc::new(inner),
            counters: Arc::default(),
        }
    }

    /// The wrapped store, for direct inspection.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Calls so far.
    pub fn calls(&self) -> Calls {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
        Calls {
            load: get(&c.load),
            create: get(&c.create),
            apply: get(&c.apply),
            rotate: get(&c.rotate),
            touch: get(&c.touch),
            delete: get(&c.delete),
            other: get(&c.other),
        }
    }

    /// Resets the counters to zero.
    pub fn reset(&self) {
        let c = &self.counters;
        for a in [
            &c.load, &c.create, &c.apply, &c.rotate, &c.touch, &c.delete, &c.other,
        ] {
            a.store(0, Ordering::SeqCst);
        }
    }

    /// Simulates an outage (`true`) or ends it (`false`).
    pub fn set_down(&self, down: bool) {
        self.counters.down.store(down, Ordering::SeqCst);
    }

    fn count(&self, counter: &AtomicU64) -> Result<(), StoreError> {
        counter.fetch_add(1, Ordering::SeqCst);
        if self.counters.down.load(Ordering::SeqCst) {
            return Err(StoreError::unavailable("simulated outage"));
        }
        Ok(())
    }
}

#[async_trait]
impl<S: SessionStore> SessionStore for ProbeStore<S> {
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        self.count(&self.counters.load)?;
        self.inner.load(key).await
    }
    async fn create(&self, key: &StoreKey, record: &Record) -> Result<CreateOutcome, StoreError> {
        self.count(&self.counters.create)?;
        self.inner.create(key, record).await
    }
    async fn apply(
        &self,
        key: &StoreKey,
        changes: &Changeset,
        expected_version: Option<u64>,
    ) -> Result<ApplyOutcome, StoreError> {
        self.count(&self.counters.apply)?;
        self.inner.apply(key, changes, expected_version).await
    }
    async fn rotate(
        &self,
        from: &StoreKey,
        to: &StoreKey,
        changes: &Changeset,
        expected_version: Option<u64>,
    ) -> Result<RotateOutcome, StoreError> {
        self.count(&self.counters.rotate)?;
        self.inner.rotate(from, to, changes, expected_version).await
    }
    async fn touch(&self, key: &StoreKey, expires_at: Timestamp) -> Result<bool, StoreError> {
        self.count(&self.counters.touch)?;
        self.inner.touch(key, expires_at).await
    }
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.count(&self.counters.delete)?;
        self.inner.delete(key).await
    }
    async fn delete_expired(&self) -> Result<u64, StoreError> {
        self.count(&self.counters.other)?;
        self.inner.delete_expired().await
    }
    async fn sessions_of(&self, user: &str, page: &PageRequest) -> Result<SessionPage, StoreError> {
        self.count(&self.counters.other)?;
        self.inner.sessions_of(user, page).await
    }
    async fn delete_sessions_of(
        &self,
        user: &str,
        except: Option<&StoreKey>,
    ) -> Result<u64, StoreError> {
        self.count(&self.counters.other)?;
        self.inner.delete_sessions_of(user, except).await
    }
    async fn delete_session_of(&self, user: &str, key: &StoreKey) -> Result<bool, StoreError> {
        self.count(&self.counters.other)?;
        self.inner.delete_session_of(user, key).await
    }
    async fn trim_sessions_of(
        &self,
        user: &str,
        keep: &StoreKey,
        max: usize,
    ) -> Result<u64, StoreError> {
        self.count(&self.counters.other)?;
        self.inner.trim_sessions_of(user, keep, max).await
    }
}
