//! The per-user index: one sorted set per user, `<prefix>user:<sha256(user)>`, whose
//! members are store keys scored by their index horizon, next to the user's revocation
//! record in the same cluster slot (see the README for the design).

use std::future::Future;

use futures_util::future::try_join_all;
use redis::Cmd;
use session_core::{
    SessionSummary, Timestamp,
    store::{StoreError, StoreKey},
};

use crate::RedisStore;
use crate::conn::{Conn, map_err};
use crate::layout::{self, CREATED, EXPIRES, USER};
use crate::scripts::{self, Rule};

/// How many per-session commands run at once while reading or clearing an index.
const FAN_OUT: usize = 64;

impl RedisStore {
    /// Writes `key` into `user`'s index with a horizon past `deadline`; returns the
    /// (user, horizon) pair to hand to the write script, or `None` when `rule` is given
    /// and refuses (the user was revoked after `rule.since`): then nothing was written.
    pub(crate) async fn index(
        &self,
        user: &str,
        key: &StoreKey,
        deadline: Timestamp,
        rule: Option<Rule<'_>>,
    ) -> Result<Option<(String, Timestamp)>, StoreError> {
        let now = Timestamp::now();
        let horizon = layout::horizon(deadline, now);
        let keys = (self.keys.user_index(user), self.keys.revocation(user));
        let mut conn = self.conn.clone();
        let added =
            scripts::index_add(&mut conn, (&keys.0, &keys.1), key, horizon, rule, now).await?;
        Ok(added.then(|| (user.to_owned(), horizon)))
    }

    /// `sessions_of`: index members still within their horizon whose hash is live and
    /// still names `user`.
    pub(crate) async fn list_sessions(
        &self,
        user: &str,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        let now = Timestamp::now();
        let mut by_score = redis::cmd("ZRANGEBYSCORE");
        by_score
            .arg(self.keys.user_index(user))
            .arg(now.as_millis())
            .arg("+inf");
        let keys = self.members(&by_score).await?;
        let rows = self
            .per_key(keys, |mut conn, key| {
                let hash = self.keys.session(&key);
                async move {
                    redis::cmd("HMGET")
                        .arg(hash)
                        .arg(USER)
                        .arg(CREATED)
                        .arg(EXPIRES)
                        .query_async::<(Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>)>(
                            &mut conn,
                        )
                        .await
                        .map_err(map_err)
                }
            })
            .await?;
        let mut out = Vec::new();
        for (key, (owner, created, expires)) in rows {
            if owner.as_deref() != Some(user.as_bytes()) {
                continue;
            }
            let (created_at, expires_at) =
                layout::summary_times(created.as_ref(), expires.as_ref())?;
            if expires_at > now {
                out.push(SessionSummary {
                    key,
                    created_at,
                    expires_at,
                });
            }
        }
        out.sort_by(|a, b| (a.created_at, &a.key).cmp(&(b.created_at, &b.key)));
        Ok(out)
    }

    /// The store keys an index query returns (anything else in the set is ignored).
    pub(crate) async fn members(&self, query: &Cmd) -> Result<Vec<StoreKey>, StoreError> {
        let mut conn = self.conn.clone();
        let members: Vec<Vec<u8>> = query.query_async(&mut conn).await.map_err(map_err)?;
        Ok(keys_of(&members))
    }

    /// Runs `op` on each item, [`FAN_OUT`] at a time (each session hash may live on a
    /// different cluster node, so these are separate commands, not one pipeline).
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
        let mut out = Vec::with_capacity(items.len());
        for chunk in items.chunks(FAN_OUT) {
            let results =
                try_join_all(chunk.iter().map(|item| op(self.conn.clone(), item.clone()))).await?;
            out.extend(chunk.iter().cloned().zip(results));
        }
        Ok(out)
    }
}

/// The members that are store keys (anything else is ignored).
pub(crate) fn keys_of(members: &[Vec<u8>]) -> Vec<StoreKey> {
    members
        .iter()
        .filter_map(|m| std::str::from_utf8(m).ok().and_then(StoreKey::parse))
        .collect()
}
