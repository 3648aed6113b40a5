//! The per-user index: one sorted set per user, `<prefix>user:<sha256(user)>`, whose
//! members are store keys scored by their index horizon (see the README for the design).

use std::future::Future;

use futures_util::future::try_join_all;
use redis::Cmd;
use session_core::{SessionSummary, StoreError, StoreKey, Timestamp};

use crate::RedisStore;
use crate::conn::map_err;
use crate::layout::{self, CREATED, EXPIRES, USER};
use crate::scripts;

/// How many per-session commands run at once while reading or clearing an index.
const FAN_OUT: usize = 64;

impl RedisStore {
    /// Writes `key` into `user`'s index with a horizon past `deadline`; returns the
    /// (user, horizon) pair to hand to the write script.
    pub(crate) async fn index(
        &self,
        user: &str,
        key: &StoreKey,
        deadline: Timestamp,
    ) -> Result<(String, Timestamp), StoreError> {
        let now = Timestamp::now();
        let horizon = layout::horizon(deadline, now);
        let index = self.keys.user_index(user);
        let mut conn = self.conn.clone();
        scripts::index_add(&mut conn, &index, key, horizon, now).await?;
        Ok((user.to_owned(), horizon))
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
            .per_key(keys, |mut conn, hash| async move {
                redis::cmd("HMGET")
                    .arg(hash)
                    .arg(USER)
                    .arg(CREATED)
                    .arg(EXPIRES)
                    .query_async::<(Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>)>(&mut conn)
                    .await
                    .map_err(map_err)
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

    /// `delete_sessions_of`: deletes each indexed hash that still names `user` (checked
    /// atomically per hash), then drops the deleted keys from the index.
    pub(crate) async fn delete_user_sessions(
        &self,
        user: &str,
        except: Option<&StoreKey>,
    ) -> Result<u64, StoreError> {
        let now = Timestamp::now();
        let index = self.keys.user_index(user);
        let mut all = redis::cmd("ZRANGE");
        all.arg(&index).arg(0).arg(-1);
        let keys: Vec<StoreKey> = self
            .members(&all)
            .await?
            .into_iter()
            .filter(|k| Some(k) != except)
            .collect();
        let outcomes = self
            .per_key(keys, |mut conn, hash| async move {
                scripts::delete_owned(&mut conn, &hash, user, now).await
            })
            .await?;
        let deleted: Vec<&str> = outcomes
            .iter()
            .filter(|(_, code)| *code != 0)
            .map(|(key, _)| key.as_str())
            .collect();
        if !deleted.is_empty() {
            let mut conn = self.conn.clone();
            redis::cmd("ZREM")
                .arg(&index)
                .arg(&deleted)
                .query_async::<i64>(&mut conn)
                .await
                .map_err(map_err)?;
        }
        Ok(outcomes.iter().filter(|(_, code)| *code == 1).count() as u64)
    }

    /// The store keys an index query returns (anything else in the set is ignored).
    async fn members(&self, query: &Cmd) -> Result<Vec<StoreKey>, StoreError> {
        let mut conn = self.conn.clone();
        let members: Vec<Vec<u8>> = query.query_async(&mut conn).await.map_err(map_err)?;
        Ok(members
            .iter()
            .filter_map(|m| std::str::from_utf8(m).ok().and_then(StoreKey::parse))
            .collect())
    }

    /// Runs `op` on each key's session hash, [`FAN_OUT`] at a time (each hash may live on
    /// a different cluster node, so these are separate commands, not one pipeline).
    async fn per_key<T, F, Fut>(
        &self,
        keys: Vec<StoreKey>,
        op: F,
    ) -> Result<Vec<(StoreKey, T)>, StoreError>
    where
        F: Fn(crate::conn::Conn, String) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(FAN_OUT) {
            let results = try_join_all(
                chunk
                    .iter()
                    .map(|key| op(self.conn.clone(), self.keys.session(key))),
            )
            .await?;
            out.extend(chunk.iter().cloned().zip(results));
        }
        Ok(out)
    }
}
