//! The connect-redis 9 layout, next to the native one: what an Express app's
//! `new RedisStore({client})` reads and writes, so both share one set of sessions.
//!
//! - Key `sess:<sid>` (the **plain** session id; prefix configurable like connect-redis's
//!   `prefix`), a Redis string holding the express-session JSON.
//! - Write: `SET key json PXAT <deadline>` (connect-redis uses `EX <seconds>`; Node
//!   only ever reads the value, so the millisecond form changes nothing for it);
//!   compare-and-set writes go through a one-key script that checks the value is still
//!   the text that was read.
//! - Touch: `PEXPIREAT` only (connect-redis's `EXPIRE`): the JSON is not rewritten.
//! - Read: `GET` and `PEXPIRETIME` in one script (Redis 7.0 or later); destroy: `DEL`.
//!
//! Every script touches one key, so the layout works unchanged on Redis Cluster.

use std::sync::LazyLock;

use async_trait::async_trait;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Script, Value as RedisValue};
use serde_json::Value;
use session_core::express::{ConnectLayout, ExpressFormat, ExpressStore, Stored};
use session_core::{Timestamp, store::StoreError};

use crate::RedisStore;
use crate::conn::{Conn, bounded, map_err};

/// connect-redis's default key prefix.
pub const CONNECT_REDIS_PREFIX: &str = "sess:";

/// Reading a session: its text and its absolute expiry (ms), `-1` without one.
static READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new("return {redis.call('GET', KEYS[1]), redis.call('PEXPIRETIME', KEYS[1])}")
});

/// Replaces the value if it is still ARGV[1].
static REPLACE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then \
           redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3]) return 1 end \
         return 0",
    )
});

/// Deletes the value if it is still ARGV[1].
static REMOVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end \
         return 0",
    )
});

/// A deadline for a key without an expiry (set by hand: connect-redis always sets one).
const NO_EXPIRY: Timestamp = Timestamp::from_millis(i64::MAX / 2);

/// The connect-redis layout on a [`RedisStore`]'s connection. Cheap to clone.
#[derive(Clone)]
pub struct ConnectRedisLayout {
    conn: Conn,
    prefix: String,
    limit: std::time::Duration,
}

impl std::fmt::Debug for ConnectRedisLayout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectRedisLayout")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// The sessions an Express app on connect-redis shares.
pub type ConnectRedisStore = ExpressStore<ConnectRedisLayout>;

impl ConnectRedisLayout {
    /// The layout under connect-redis's prefix `sess:`, on `store`'s connection (standalone
    /// or cluster) and with its timeouts.
    pub fn new(store: &RedisStore) -> Self {
        Self {
            conn: store.conn.clone(),
            prefix: CONNECT_REDIS_PREFIX.to_owned(),
            limit: store.limit,
        }
    }

    /// The Node side's `prefix` option.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, sid: &str) -> String {
        format!("{}{sid}", self.prefix)
    }
}

impl RedisStore {
    /// The same server's sessions in connect-redis's layout (prefix `sess:`), as a store
    /// for an Express-compatible manager.
    pub fn connect_redis(&self, format: ExpressFormat) -> ConnectRedisStore {
        ExpressStore::new(ConnectRedisLayout::new(self), format)
    }
}

#[async_trait]
impl ConnectLayout for ConnectRedisLayout {
    type Token = String;

    async fn read(&self, sid: &str) -> Result<Option<Stored<String>>, StoreError> {
        bounded(self.limit, async {
            let mut conn = self.conn.clone();
            let reply: (Option<Vec<u8>>, i64) = READ
                .key(self.key(sid))
                .invoke_async(&mut conn)
                .await
                .map_err(map_err)?;
            let (Some(bytes), expiry) = reply else {
                return Ok(None);
            };
            let text = String::from_utf8(bytes)
                .map_err(|_| StoreError::Corrupt("connect-redis value is not UTF-8".into()))?;
            let session = serde_json::from_str(&text).map_err(|e| {
                StoreError::Corrupt(format!("connect-redis value is not JSON: {e}"))
            })?;
            let deadline = match expiry {
                -1 => NO_EXPIRY,
                ms if ms < 0 => return Ok(None),
                ms => Timestamp::from_millis(ms),
            };
            Ok(Some(Stored {
                session,
                deadline,
                token: text,
            }))
        })
        .await
    }

    async fn insert(
        &self,
        sid: &str,
        session: &Value,
        deadline: Timestamp,
    ) -> Result<bool, StoreError> {
        let text = session_core::express::session_text(session)?;
        bounded(self.limit, async {
            let mut conn = self.conn.clone();
            let reply: RedisValue = redis::cmd("SET")
                .arg(self.key(sid))
                .arg(text)
                .arg("PXAT")
                .arg(deadline.as_millis())
                .arg("NX")
                .query_async(&mut conn)
                .await
                .map_err(map_err)?;
            Ok(!matches!(reply, RedisValue::Nil))
        })
        .await
    }

    async fn replace(
        &self,
        sid: &str,
        token: &String,
        session: &Value,
        deadline: Timestamp,
    ) -> Result<bool, StoreError> {
        let text = session_core::express::session_text(session)?;
        bounded(self.limit, async {
            let mut conn = self.conn.clone();
            let replaced: i64 = REPLACE
                .key(self.key(sid))
                .arg(token.as_str())
                .arg(text)
                .arg(deadline.as_millis())
                .invoke_async(&mut conn)
                .await
                .map_err(map_err)?;
            Ok(replaced == 1)
        })
        .await
    }

    async fn remove(&self, sid: &str, token: &String) -> Result<bool, StoreError> {
        bounded(self.limit, async {
            let mut conn = self.conn.clone();
            let removed: i64 = REMOVE
                .key(self.key(sid))
                .arg(token.as_str())
                .invoke_async(&mut conn)
                .await
                .map_err(map_err)?;
            Ok(removed == 1)
        })
        .await
    }

    async fn expire(&self, sid: &str, deadline: Timestamp) -> Result<bool, StoreError> {
        bounded(self.limit, async {
            let mut conn = self.conn.clone();
            let moved: i64 = redis::cmd("PEXPIREAT")
                .arg(self.key(sid))
                .arg(deadline.as_millis())
                .query_async(&mut conn)
                .await
                .map_err(map_err)?;
            Ok(moved == 1 && deadline > Timestamp::now())
        })
        .await
    }

    async fn delete(&self, sid: &str) -> Result<(), StoreError> {
        bounded(self.limit, async {
            let mut conn = self.conn.clone();
            redis::cmd("DEL")
                .arg(self.key(sid))
                .query_async::<i64>(&mut conn)
                .await
                .map(drop)
                .map_err(map_err)
        })
        .await
    }

    /// Redis expires keys itself.
    async fn prune(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// `SCAN … MATCH <prefix>*`; on a cluster, every master in turn (cursor
    /// `<master index>:<scan cursor>`).
    async fn list(
        &self,
        cursor: Option<String>,
        page: usize,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        let pattern = format!("{}*", glob_escape(&self.prefix));
        let mut scan = redis::cmd("SCAN");
        let (node, at) = match cursor.as_deref().and_then(|c| c.split_once(':')) {
            Some((node, at)) => (node.parse::<usize>().unwrap_or(0), at.to_owned()),
            None => (0, cursor.unwrap_or_else(|| "0".into())),
        };
        // COUNT is how many keys of the whole keyspace one call examines, not how many
        // match: on a shared database a large one gets through in few calls.
        scan.arg(&at)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(page.max(1000));
        let strip = |keys: Vec<String>| -> Vec<String> {
            keys.into_iter()
                .filter_map(|k| k.strip_prefix(&self.prefix).map(str::to_owned))
                .collect()
        };
        bounded(self.limit, async {
            match &self.conn {
                // Sentinel: one master, scanned like a single server.
                Conn::Standalone(_) | Conn::Sentinel(_) => {
                    let mut conn = self.conn.clone();
                    let (next, keys): (String, Vec<String>) =
                        scan.query_async(&mut conn).await.map_err(map_err)?;
                    Ok((strip(keys), (next != "0").then_some(next)))
                }
                Conn::Cluster(cluster) => {
                    let mut cluster = cluster.clone();
                    let masters = cluster_masters(&mut cluster).await?;
                    let Some((host, port)) = masters.get(node).cloned() else {
                        return Ok((Vec::new(), None));
                    };
                    let routing =
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host, port });
                    let reply = cluster
                        .route_command(scan, routing)
                        .await
                        .map_err(map_err)?;
                    let (next, keys): (String, Vec<String>) = redis::from_redis_value(reply)
                        .map_err(|e| StoreError::backend(e.to_string()))?;
                    let next = match (next.as_str(), node + 1 < masters.len()) {
                        ("0", true) => Some(format!("{}:0", node + 1)),
                        ("0", false) => None,
                        (at, _) => Some(format!("{node}:{at}")),
                    };
                    Ok((strip(keys), next))
                }
            }
        })
        .await
    }
}

/// The masters of a cluster (`CLUSTER NODES`), sorted, as host and port.
async fn cluster_masters(
    cluster: &mut redis::cluster_async::ClusterConnection,
) -> Result<Vec<(String, u16)>, StoreError> {
    let text: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(cluster)
        .await
        .map_err(map_err)?;
    let mut masters: Vec<(String, u16)> = text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let address = fields.nth(1)?;
            let flags = fields.next()?;
            if !flags.split(',').any(|f| f == "master") || flags.contains("fail") {
                return None;
            }
            let host_port = address.split(['@', ',']).next()?;
            let (host, port) = host_port.rsplit_once(':')?;
            Some((host.to_owned(), port.parse().ok()?))
        })
        .collect();
    masters.sort();
    Ok(masters)
}

/// `text` with Redis glob characters escaped, for `MATCH`.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
