//! The account page's operations on one user's sessions: a newest-first page from the
//! by-creation set, signing one session out, and the per-user cap.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use futures_util::future::try_join_all;
use redis::{Script, Value};
use session_core::{
    PageRequest, SessionPage, SessionSummary, Timestamp,
    store::{StoreError, StoreKey},
};

use crate::RedisStore;
use crate::conn::map_err;
use crate::index::keys_of;
use crate::layout::{self, SUMMARY_FIELDS, SummaryFields};

/// One step of a listing, on the user's slot: KEYS[1] the index, KEYS[2] the by-creation
/// set; ARGV[1] the highest `created_at` wanted ('+inf' or ms, inclusive), ARGV[2] offset,
/// ARGV[3] count. Returns {members of the index, members of the by-creation set, the keys
/// of that slice, newest first}: the counts tell a by-creation set that misses members
/// (written before it existed) from a complete one.
const LIST: &str = r"
local n = redis.call('ZCARD', KEYS[1])
local c = redis.call('ZCARD', KEYS[2])
local page = redis.call('ZRANGE', KEYS[2], ARGV[1], '-inf', 'BYSCORE', 'REV', 'LIMIT', ARGV[2], ARGV[3])
return {n, c, page}
";

/// Deletes the session hash KEYS[1] if it is a session (not a marker) of user ARGV[1].
/// ARGV[2] now. Returns 1 (a live one went), 2 (an expired one went) or 0 (nothing: no
/// such session, another user's, or one caught mid-rotation).
const DELETE_OWNED: &str = r"
local m = redis.call('HMGET', KEYS[1], 's', 'u', 'e')
if m[1] or m[2] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if (tonumber(m[3]) or 0) > tonumber(ARGV[2]) then return 1 end
return 2
";

static LIST_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(LIST));
static DELETE_OWNED_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(DELETE_OWNED));

/// Most slices one listing reads before it settles for a short page (stale members of the
/// by-creation set, sessions signed out but not yet pruned, are skipped over).
const MAX_ROUNDS: usize = 8;

impl RedisStore {
    /// `sessions_of`: slices of the by-creation set, newest first, each read with one
    /// `HMGET` per member (all at once), until the page is full.
    pub(crate) async fn sessions_page(
        &self,
        user: &str,
        page: &PageRequest,
    ) -> Result<SessionPage, StoreError> {
        let now = Timestamp::now();
        let wanted = page.limit() + 1;
        let slice = (wanted * 2).max(32);
        let max = page.before().map_or_else(
            || "+inf".to_owned(),
            |c| c.created_at.as_millis().to_string(),
        );
        let mut found: BTreeMap<StoreKey, SessionSummary> = BTreeMap::new();
        let mut backfilled = false;
        let mut offset = 0;
        for _ in 0..MAX_ROUNDS {
            let (indexed, by_creation, keys) = self.list_step(user, &max, offset, slice).await?;
            if by_creation < indexed && !backfilled {
                self.backfill(user).await?;
                backfilled = true;
                (offset, found) = (0, BTreeMap::new());
                continue;
            }
            let exhausted = keys.len() < slice;
            for summary in self.summaries(user, keys, now).await? {
                if page.admits(&summary) {
                    found.insert(summary.key.clone(), summary);
                }
            }
            if exhausted || found.len() >= wanted {
                break;
            }
            offset += slice;
        }
        Ok(page.page_of(found.into_values().collect()))
    }

    async fn list_step(
        &self,
        user: &str,
        max: &str,
        offset: usize,
        count: usize,
    ) -> Result<(i64, i64, Vec<StoreKey>), StoreError> {
        let mut conn = self.conn.clone();
        let reply: Vec<Value> = LIST_SCRIPT
            .key(self.keys.user_index(user))
            .key(self.keys.created(user))
            .arg(max)
            .arg(offset)
            .arg(count)
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        let unexpected = || StoreError::backend(format!("unexpected reply from LIST: {reply:?}"));
        match reply.as_slice() {
            [n, c, Value::Array(members)] => {
                let members: Vec<Vec<u8>> = members
                    .iter()
                    .filter_map(|m| match m {
                        Value::BulkString(b) => Some(b.clone()),
                        _ => None,
                    })
                    .collect();
                let n = layout::int_of(n).ok_or_else(unexpected)?;
                let c = layout::int_of(c).ok_or_else(unexpected)?;
                Ok((n, c, keys_of(&members)))
            }
            _ => Err(unexpected()),
        }
    }

    /// The summaries of those `keys` that are live sessions of `user`, read at once.
    async fn summaries(
        &self,
        user: &str,
        keys: Vec<StoreKey>,
        now: Timestamp,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        let reads = keys.iter().map(|key| {
            let mut conn = self.conn.clone();
            let hash = self.keys.session(key);
            async move {
                redis::cmd("HMGET")
                    .arg(hash)
                    .arg(&SUMMARY_FIELDS[..])
                    .query_async::<SummaryFields>(&mut conn)
                    .await
                    .map_err(map_err)
            }
        });
        let fields = try_join_all(reads).await?;
        let mut out = Vec::new();
        for (key, fields) in keys.into_iter().zip(&fields) {
            if let Some(summary) = layout::summary_of(key, fields, user, now)? {
                out.push(summary);
            }
        }
        Ok(out)
    }

    /// The migration of indexes written before the by-creation set existed: every index
    /// member missing from it is added under its session's `created_at` (0 when its hash
    /// is gone: it sorts last and is skipped). Runs once per such user, on a listing.
    async fn backfill(&self, user: &str) -> Result<(), StoreError> {
        let by_creation = self.keys.created(user);
        let mut all = redis::cmd("ZRANGE");
        all.arg(self.keys.user_index(user)).arg(0).arg(-1);
        let members = self.members(&all).await?;
        let mut present = redis::cmd("ZRANGE");
        present.arg(&by_creation).arg(0).arg(-1);
        let present: HashSet<StoreKey> = self.members(&present).await?.into_iter().collect();
        let missing: Vec<StoreKey> = members
            .into_iter()
            .filter(|k| !present.contains(k))
            .collect();
        let created = self
            .per_key(missing, |mut conn, key| {
                let hash = self.keys.session(&key);
                async move {
                    redis::cmd("HGET")
                        .arg(hash)
                        .arg(layout::CREATED)
                        .query_async::<Option<i64>>(&mut conn)
                        .await
                        .map_err(map_err)
                }
            })
            .await?;
        for chunk in created.chunks(1000) {
            let mut add = redis::cmd("ZADD");
            add.arg(&by_creation).arg("NX");
            for (key, at) in chunk {
                add.arg(at.unwrap_or(0)).arg(key.as_str());
            }
            let mut conn = self.conn.clone();
            add.query_async::<i64>(&mut conn).await.map_err(map_err)?;
        }
        Ok(())
    }

    /// `delete_session_of`: the owner-checked delete on the session's slot, then the key
    /// leaves the user's index.
    pub(crate) async fn delete_owned(
        &self,
        user: &str,
        key: &StoreKey,
    ) -> Result<bool, StoreError> {
        let gone = self.delete_owned_hash(user, key.clone()).await?;
        if gone != 0 {
            self.unindex(user, &[key.as_str()]).await?;
        }
        Ok(gone == 1)
    }

    async fn delete_owned_hash(&self, user: &str, key: StoreKey) -> Result<i64, StoreError> {
        let mut conn = self.conn.clone();
        DELETE_OWNED_SCRIPT
            .key(self.keys.session(&key))
            .arg(user)
            .arg(Timestamp::now().as_millis())
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)
    }

    /// Removes `keys` from `user`'s index and by-creation set (same slot, two commands).
    pub(crate) async fn unindex(&self, user: &str, keys: &[&str]) -> Result<(), StoreError> {
        for set in [self.keys.user_index(user), self.keys.created(user)] {
            let mut conn = self.conn.clone();
            redis::cmd("ZREM")
                .arg(set)
                .arg(keys)
                .query_async::<i64>(&mut conn)
                .await
                .map_err(map_err)?;
        }
        Ok(())
    }

    /// `trim_sessions_of`: reads the user's indexed sessions, then deletes (owner-checked)
    /// all but `keep` and the `max - 1` most recently seen others. Not one atomic step on a
    /// cluster (the sessions live in other slots), but each call reads only after its own
    /// login was written and only ever deletes, so once concurrent logins are done the
    /// last call to read saw every one of them and left at most `max`.
    pub(crate) async fn trim(
        &self,
        user: &str,
        keep: &StoreKey,
        max: usize,
    ) -> Result<u64, StoreError> {
        let now = Timestamp::now();
        let mut live = redis::cmd("ZRANGEBYSCORE");
        live.arg(self.keys.user_index(user))
            .arg(now.as_millis())
            .arg("+inf");
        let keys: Vec<StoreKey> = self
            .members(&live)
            .await?
            .into_iter()
            .filter(|k| k != keep)
            .collect();
        let mut others = Vec::new();
        for chunk in keys.chunks(crate::index::FAN_OUT * 4) {
            others.extend(self.summaries(user, chunk.to_vec(), now).await?);
        }
        others.sort_by(|a, b| (b.last_seen, &b.key).cmp(&(a.last_seen, &a.key)));
        let doomed: Vec<StoreKey> = others
            .into_iter()
            .skip(max.saturating_sub(1))
            .map(|s| s.key)
            .collect();
        if doomed.is_empty() {
            return Ok(0);
        }
        let deleted = self
            .per_key(doomed, |_, key| self.delete_owned_hash(user, key))
            .await?;
        let gone: Vec<&str> = deleted
            .iter()
            .filter(|(_, n)| *n != 0)
            .map(|(k, _)| k.as_str())
            .collect();
        if !gone.is_empty() {
            self.unindex(user, &gone).await?;
        }
        Ok(deleted.iter().filter(|(_, n)| *n == 1).count() as u64)
    }
}
