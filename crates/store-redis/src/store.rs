//! [`RedisStore`]: construction and the [`SessionStore`] operations on one session.

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Client, IntoConnectionInfo};
use session_core::{
    PageRequest, SessionPage, Timestamp,
    store::{
        ApplyOutcome, Changeset, CreateOutcome, Record, RotateOutcome, SessionStore, StoreError,
        StoreKey,
    },
};

use crate::conn::{Conn, Timeouts, bounded, map_err};
use crate::layout::{self, Keys};
use crate::runtime_conn::RuntimeConn;
use crate::scripts::{self, CreateReply, Rule, Write, WriteReply};

/// The key prefix used unless [`RedisStore::with_prefix`] says otherwise.
pub const DEFAULT_PREFIX: &str = "session:";

/// How often a write may find its user's index entry short of the new deadline (another
/// writer changing the user in between) before giving up.
const INDEX_ROUNDS: usize = 4;

/// A [`SessionStore`] on Redis: standalone, cluster, or through Sentinel.
///
/// Cheap to clone: clones share one multiplexed, self-reconnecting connection.
#[derive(Clone)]
pub struct RedisStore {
    pub(crate) conn: Conn,
    pub(crate) keys: Keys,
    pub(crate) limit: std::time::Duration,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.conn {
            Conn::Standalone(_) => "standalone",
            Conn::Cluster(_) => "cluster",
            Conn::Sentinel(ref c) if c.durability().is_some() => "sentinel (WAIT after writes)",
            Conn::Sentinel(_) => "sentinel",
        };
        f.debug_struct("RedisStore")
            .field("mode", &mode)
            .field("keys", &self.keys)
            .field("limit", &self.limit)
            .finish()
    }
}

impl RedisStore {
    /// Connects to one Redis server (`redis://[user:pass@]host:port[/db]`, or `rediss://`
    /// when the redis crate's TLS features are enabled) with [`Timeouts::default`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::store::StoreError> {
    /// use store_redis::RedisStore;
    ///
    /// let url = std::env::var("REDIS_URL").unwrap_or("redis://127.0.0.1:6379".into());
    /// let store = RedisStore::connect(&url).await?.with_prefix("myapp:session:");
    /// # Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, Timeouts::default()).await
    }

    /// Connects to one Redis server with the given timeouts.
    pub async fn connect_with(url: &str, timeouts: Timeouts) -> Result<Self, StoreError> {
        let client = Client::open(url).map_err(StoreError::backend)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeouts.connect))
            .set_response_timeout(Some(timeouts.response))
            // Fail fast while the server is down; the next command starts a new attempt.
            .set_number_of_retries(1)
            .set_min_delay(std::time::Duration::from_millis(50))
            .set_max_delay(timeouts.connect);
        let manager = bounded(timeouts.operation(), async {
            ConnectionManager::new_with_config(client.clone(), config.clone())
                .await
                .map_err(map_err)
        })
        .await?;
        let conn = RuntimeConn::new(manager, client, config);
        Ok(Self::new(Conn::Standalone(conn), timeouts))
    }

    /// Connects to a Redis Cluster through any of its nodes, with [`Timeouts::default`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::store::StoreError> {
    /// use store_redis::RedisStore;
    ///
    /// let nodes = std::env::var("REDIS_CLUSTER_URLS").unwrap_or("redis://127.0.0.1:7000".into());
    /// let store = RedisStore::connect_cluster(nodes.split(',')).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_cluster<T: IntoConnectionInfo>(
        nodes: impl IntoIterator<Item = T>,
    ) -> Result<Self, StoreError> {
        Self::connect_cluster_with(nodes, Timeouts::default()).await
    }

    /// Connects to a Redis Cluster with the given timeouts.
    pub async fn connect_cluster_with<T: IntoConnectionInfo>(
        nodes: impl IntoIterator<Item = T>,
        timeouts: Timeouts,
    ) -> Result<Self, StoreError> {
        let client = ClusterClientBuilder::new(nodes)
            .connection_timeout(timeouts.connect)
            .response_timeout(timeouts.response)
            .retries(2)
            .build()
            .map_err(StoreError::backend)?;
        let conn = bounded(timeouts.operation(), async {
            client.get_async_connection().await.map_err(map_err)
        })
        .await?;
        Ok(Self::new(Conn::Cluster(conn), timeouts))
    }

    /// Wraps a connection manager you configured yourself; operations are bounded by
    /// `timeouts.operation()`.
    pub fn from_connection_manager(manager: ConnectionManager, timeouts: Timeouts) -> Self {
        Self::new(Conn::Standalone(RuntimeConn::fixed(manager)), timeouts)
    }

    /// Wraps a cluster connection you configured yourself; operations are bounded by
    /// `timeouts.operation()`.
    pub fn from_cluster_connection(conn: ClusterConnection, timeouts: Timeouts) -> Self {
        Self::new(Conn::Cluster(conn), timeouts)
    }

    pub(crate) fn new(conn: Conn, timeouts: Timeouts) -> Self {
        Self {
            conn,
            keys: Keys::new(DEFAULT_PREFIX),
            limit: timeouts.operation(),
        }
    }

    /// Puts every key of this store under `prefix` instead of [`DEFAULT_PREFIX`], e.g. to
    /// share a database between applications.
    ///
    /// # Panics
    /// On a cluster, if `prefix` contains `}` without a non-empty hash tag (`{…}`) before
    /// it: a user's revocation record could then not share its index's slot. (A prefix
    /// with a hash tag is fine; it puts every key of the store in one slot.)
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        let keys = Keys::new(prefix);
        assert!(
            !matches!(self.conn, Conn::Cluster(_)) || keys.cluster_safe(),
            "store-redis: on a cluster the key prefix must not contain '}}' unless it \
             carries a non-empty hash tag"
        );
        self.keys = keys;
        self
    }

    /// Runs the write script, first extending the user's index entry whenever the script
    /// asks for it, so the index never falls behind a session's deadline.
    async fn write(
        &self,
        key: &StoreKey,
        write: &Write<'_>,
        mut indexed: Option<(String, Timestamp)>,
    ) -> Result<WriteReply, StoreError> {
        let hash = self.keys.session(key);
        let mut conn = self.conn.clone();
        if scripts::data_only(write) {
            return scripts::data_write(&mut conn, &hash, write.changes, Timestamp::now()).await;
        }
        for _ in 0..INDEX_ROUNDS {
            let now = Timestamp::now();
            match scripts::write(&mut conn, &hash, write, indexed.as_ref(), now).await? {
                WriteReply::NeedIndex(user) => {
                    indexed = self
                        .index(&user, (key, None), write.changes.expires_at, None)
                        .await?;
                }
                reply => return Ok(reply),
            }
        }
        Err(StoreError::backend(
            "the session's user kept changing while its index entry was being written",
        ))
    }

    /// The outcome of an `apply` the revocation rule refused: `Missing`, unless a strict
    /// write meets another version (the reference store checks versions first).
    async fn refused_apply(
        &self,
        key: &StoreKey,
        expected: Option<u64>,
    ) -> Result<ApplyOutcome, StoreError> {
        let Some(expected) = expected else {
            return Ok(ApplyOutcome::Missing);
        };
        Ok(match self.probe(key, Timestamp::now()).await? {
            Some(version) if version != expected => ApplyOutcome::Conflict,
            _ => ApplyOutcome::Missing,
        })
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        bounded(self.limit, async {
            let mut conn = self.conn.clone();
            let reply: redis::Value = redis::cmd("HGETALL")
                .arg(self.keys.session(key))
                .query_async(&mut conn)
                .await
                .map_err(map_err)?;
            layout::decode_record(layout::hash_fields(reply)?, Timestamp::now())
        })
        .await
    }

    async fn create(&self, key: &StoreKey, record: &Record) -> Result<CreateOutcome, StoreError> {
        bounded(self.limit, async {
            let now = Timestamp::now();
            let horizon = match &record.user {
                // Index first: a crash in between leaves a stray index entry (filtered
                // out when read), never a session missing from its user's index.
                Some(user) => {
                    let rule = Rule {
                        since: scripts::signed_in_at(record),
                        kept: None,
                    };
                    let entry = (key, Some(record.created_at));
                    match self
                        .index(user, entry, record.expires_at, Some(rule))
                        .await?
                    {
                        Some((_, horizon)) => horizon,
                        // The reference store reports a live key before a revocation.
                        None if self.probe(key, now).await?.is_some() => {
                            return Ok(CreateOutcome::AlreadyExists);
                        }
                        None => return Ok(CreateOutcome::Revoked),
                    }
                }
                None => layout::horizon(record.expires_at, now),
            };
            let mut conn = self.conn.clone();
            let hash = self.keys.session(key);
            Ok(
                match scripts::create(&mut conn, &hash, record, horizon, now).await? {
                    CreateReply::Created => CreateOutcome::Created,
                    CreateReply::Exists => CreateOutcome::AlreadyExists,
                    CreateReply::Fenced => CreateOutcome::Revoked,
                },
            )
        })
        .await
    }

    async fn apply(
        &self,
        key: &StoreKey,
        changes: &Changeset,
        expected_version: Option<u64>,
    ) -> Result<ApplyOutcome, StoreError> {
        bounded(self.limit, async {
            let indexed = match changes.binds_user() {
                Some(user) => {
                    let rule = Rule {
                        since: changes.began_at,
                        kept: Some(key),
                    };
                    match self
                        .index(user, (key, None), changes.expires_at, Some(rule))
                        .await?
                    {
                        Some(indexed) => Some(indexed),
                        None => return self.refused_apply(key, expected_version).await,
                    }
                }
                None => None,
            };
            let write = Write {
                changes,
                expected: expected_version,
                bump: true,
            };
            Ok(match self.write(key, &write, indexed).await? {
                WriteReply::Applied(version) => ApplyOutcome::Applied(version),
                WriteReply::Conflict => ApplyOutcome::Conflict,
                WriteReply::Missing | WriteReply::NeedIndex(_) => ApplyOutcome::Missing,
            })
        })
        .await
    }

    async fn rotate(
        &self,
        from: &StoreKey,
        to: &StoreKey,
        changes: &Changeset,
        expected_version: Option<u64>,
    ) -> Result<RotateOutcome, StoreError> {
        bounded(
            self.limit,
            self.rotate_session(from, to, changes, expected_version),
        )
        .await
    }

    async fn touch(&self, key: &StoreKey, expires_at: Timestamp) -> Result<bool, StoreError> {
        bounded(self.limit, async {
            let changes = Changeset::new(expires_at);
            let write = Write {
                changes: &changes,
                expected: None,
                bump: false,
            };
            Ok(matches!(
                self.write(key, &write, None).await?,
                WriteReply::Applied(_)
            ))
        })
        .await
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        bounded(self.limit, async {
            let mut conn = self.conn.clone();
            scripts::delete(&mut conn, &self.keys.session(key)).await
        })
        .await
    }

    async fn delete_expired(&self) -> Result<u64, StoreError> {
        // Redis expires every hash (PEXPIREAT) and every index (its last horizon) itself.
        Ok(0)
    }

    async fn sessions_of(&self, user: &str, page: &PageRequest) -> Result<SessionPage, StoreError> {
        bounded(self.limit, self.sessions_page(user, page)).await
    }

    async fn delete_session_of(&self, user: &str, key: &StoreKey) -> Result<bool, StoreError> {
        bounded(self.limit, self.delete_owned(user, key)).await
    }

    async fn trim_sessions_of(
        &self,
        user: &str,
        keep: &StoreKey,
        max: usize,
    ) -> Result<u64, StoreError> {
        bounded(self.limit, self.trim(user, keep, max)).await
    }

    async fn delete_sessions_of(
        &self,
        user: &str,
        except: Option<&StoreKey>,
    ) -> Result<u64, StoreError> {
        // Bounded batch by batch inside.
        self.revoke_user_sessions(user, except).await
    }
}
