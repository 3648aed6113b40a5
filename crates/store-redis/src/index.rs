//! The per-user index: one sorted set per user, `<prefix>user:<sha256(user)>`, whose
//! members are store keys scored by their index horizon, next to the user's revocation
//! record and the same members scored by `created_at` (for the newest-first listing) in
//! the same cluster slot (see the README for the design).

use std::future::Future;

use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};
use redis::Cmd;
use session_core::{
    Timestamp,
    store::{StoreError, StoreKey},
};

use crate::RedisStore;
use crate::conn::{Conn, map_err};
use crate::layout;
use crate::scripts::{self, Rule};

/// How many per-session commands are in flight at once while reading or clearing an
/// index.
pub(crate) const FAN_OUT: usize = 256;

impl RedisStore {
    /// Writes `key` into `user`'s index with a horizon past `deadline` (and, with its
    /// `created_at`, into the by-creation set; without, the listing backfills it); returns
    /// the (user, horizon) pair to hand to the write script, or `None` when `rule` is given
    /// and refuses (the user was revoked after `rule.since`): then nothing was written.
    pub(crate) async fn index(
        &self,
        user: &str,
        (key, created_at): (&StoreKey, Option<Timestamp>),
        deadline: Timestamp,
        rule: Option<Rule<'_>>,
    ) -> Result<Option<(String, Timestamp)>, StoreError> {
        let now = Timestamp::now();
        let horizon = layout::horizon(deadline, now);
        let index = self.keys.user_index(user);
        let revocation = self.keys.revocation(user);
        let by_creation = self.keys.created(user);
        let keys = (index.as_str(), revocation.as_str(), by_creation.as_str());
        let mut conn = self.conn.clone();
        let entry = (key, created_at);
        let added = scripts::index_add(&mut conn, keys, entry, horizon, rule, now).await?;
        Ok(added.then(|| (user.to_owned(), horizon)))
    }

    /// The store keys an index query returns (anything else in the set is ignored).
    pub(crate) async fn members(&self, query: &Cmd) -> Result<Vec<StoreKey>, StoreError> {
        let mut conn = self.conn.clone();
        let members: Vec<Vec<u8>> = query.query_async(&mut conn).await.map_err(map_err)?;
        Ok(keys_of(&members))
    }

    /// Runs `op` on each item, keeping [`FAN_OUT`] in flight (each session hash may live
    /// on a different cluster node, so these are separate commands, not one pipeline; on
    /// the multiplexed connection they are pipelined all the same). A slot frees as soon
    /// as its command answers, so one slow reply does not hold up the next 63.
    pub(crate) async fn per_key<I, T, F, Fut>(
        &self,
        items: Vec<I>,
        op: F,
    ) -> Result<Vec<(I, T)>, StoreError>
    where
        I: Clone,
        F: Fn(Conn, I) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let results: Vec<T> = stream::iter(items.iter().cloned())
            .map(|item| op(self.conn.clone(), item))
            .buffered(FAN_OUT)
            .try_collect()
            .await?;
        Ok(items.into_iter().zip(results).collect())
    }
}

/// The members that are store keys (anything else is ignored).
pub(crate) fn keys_of(members: &[Vec<u8>]) -> Vec<StoreKey> {
    members
        .iter()
        .filter_map(|m| std::str::from_utf8(m).ok().and_then(StoreKey::parse))
        .collect()
}
