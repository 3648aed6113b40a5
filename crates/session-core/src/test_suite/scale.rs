//! One user with very many sessions: how long the account page's listing and "sign out
//! everywhere else" take. A measurement, not a conformance case (no timing is asserted):
//! store crates run it from an `#[ignore]`d test and print the numbers.

use std::time::{Duration, Instant};

use super::{created, futures_join_all, live_record, random_user};
use crate::{PageRequest, SessionStore, StoreKey};

/// What [`many_sessions_of_one_user`] measured.
#[derive(Debug, Clone)]
pub struct ScaleReport {
    /// Sessions the user had.
    pub sessions: usize,
    /// How long writing them took.
    pub seeding: Duration,
    /// How long the first page of `sessions_of` took.
    pub first_page: Duration,
    /// How many sessions it listed.
    pub listed: usize,
    /// How long `delete_sessions_of(user, Some(current))` took.
    pub revoke_others: Duration,
    /// How many sessions it reported gone.
    pub revoked: u64,
}

impl std::fmt::Display for ScaleReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} sessions of one user (seeded in {:.2?}): sessions_of first page {:.2?} \
             ({} listed); log out everywhere else {:.2?} ({} signed out)",
            self.sessions,
            self.seeding,
            self.first_page,
            self.listed,
            self.revoke_others,
            self.revoked
        )
    }
}

/// Gives one user `n` sessions (64 creates at a time), then times the first page of
/// `sessions_of` and "log out everywhere else"; checks that every other session went.
pub async fn many_sessions_of_one_user(store: &dyn SessionStore, n: usize) -> ScaleReport {
    let user = random_user();
    let mut record = live_record();
    record.user = Some(user.clone());
    record.authenticated_at = Some(record.created_at);
    let started = Instant::now();
    let mut keys: Vec<StoreKey> = Vec::with_capacity(n);
    while keys.len() < n {
        let batch = (n - keys.len()).min(64);
        keys.extend(futures_join_all((0..batch).map(|_| created(store, &record))).await);
    }
    let seeding = started.elapsed();

    let started = Instant::now();
    let page = store
        .sessions_of(&user, &PageRequest::default())
        .await
        .expect("sessions_of failed");
    let first_page = started.elapsed();
    assert_eq!(page.sessions.len(), n.min(crate::MAX_SESSIONS_PER_PAGE));

    let current = keys[0].clone();
    let started = Instant::now();
    let revoked = store
        .delete_sessions_of(&user, Some(&current))
        .await
        .expect("delete_sessions_of failed");
    let revoke_others = started.elapsed();
    assert_eq!(revoked, (n - 1) as u64, "not every other session went");
    let left = store
        .sessions_of(&user, &PageRequest::default())
        .await
        .expect("sessions_of failed");
    let left: Vec<StoreKey> = left.sessions.into_iter().map(|s| s.key).collect();
    assert_eq!(left, [current]);
    ScaleReport {
        sessions: n,
        seeding,
        first_page,
        listed: page.sessions.len(),
        revoke_others,
        revoked,
    }
}

/// The size to measure: `SCALE_SESSIONS` from the environment, else 100,000.
pub fn scale_from_env() -> usize {
    std::env::var("SCALE_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}
