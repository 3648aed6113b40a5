//! Connecting through Redis Sentinel: [`SentinelBuilder`], from code or from a
//! `redis+sentinel://` URL. The connection itself (following failovers, `WAIT`) is in
//! `sentinel_conn.rs`; the README ("Redis Sentinel") says what a failover can lose.

use std::time::Duration;

use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{AsyncConnectionConfig, RedisConnectionInfo};
use session_core::store::StoreError;

use crate::RedisStore;
use crate::conn::{Conn, Timeouts, bounded, map_err};
use crate::sentinel_conn::{Durability, SentinelConn};

/// How to reach a master through its sentinels. Start with [`RedisStore::sentinel`] or
/// [`SentinelBuilder::from_url`], finish with [`SentinelBuilder::connect`].
#[derive(Clone)]
pub struct SentinelBuilder {
    sentinels: Vec<String>,
    master: String,
    timeouts: Timeouts,
    durability: Option<Durability>,
    db: i64,
    username: Option<String>,
    password: Option<String>,
}

impl std::fmt::Debug for SentinelBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelBuilder")
            .field("sentinels", &self.sentinels)
            .field("master", &self.master)
            .field("timeouts", &self.timeouts)
            .field("durability", &self.durability)
            .field("db", &self.db)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

impl RedisStore {
    /// Starts configuring a store on the master the `sentinels` (`redis://host:port`
    /// URLs of Sentinel nodes, not of data nodes) monitor under the name `master`.
    pub fn sentinel<S: Into<String>>(
        sentinels: impl IntoIterator<Item = S>,
        master: impl Into<String>,
    ) -> SentinelBuilder {
        SentinelBuilder {
            sentinels: sentinels.into_iter().map(Into::into).collect(),
            master: master.into(),
            timeouts: Timeouts::default(),
            durability: None,
            db: 0,
            username: None,
            password: None,
        }
    }
}

impl SentinelBuilder {
    /// Parses `redis+sentinel://[user:password@]host:port[,host:port…]/<master>[/<db>]`
    /// with the optional query `?wait=<replicas>&wait_timeout_ms=<ms>` (see
    /// [`SentinelBuilder::wait_for_replicas`]; `wait_timeout_ms` defaults to 500). The
    /// credentials are for the data nodes; the sentinels are reached without any.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let bad = |why: &str| StoreError::backend(format!("redis+sentinel URL: {why}"));
        let rest = url
            .trim()
            .strip_prefix("redis+sentinel://")
            .ok_or_else(|| bad("must start with redis+sentinel://"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest
            .split_once('/')
            .ok_or_else(|| bad("the master's name is missing (…/<master>)"))?;
        let (credentials, hosts) = match authority.rsplit_once('@') {
            Some((credentials, hosts)) => (Some(credentials), hosts),
            None => (None, authority),
        };
        let sentinels: Vec<String> = hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(|h| format!("redis://{h}"))
            .collect();
        if sentinels.is_empty() {
            return Err(bad("needs at least one sentinel host:port"));
        }
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        let master = segments
            .next()
            .ok_or_else(|| bad("the master's name is missing (…/<master>)"))?;
        let mut builder = RedisStore::sentinel(sentinels, master);
        if let Some(db) = segments.next() {
            builder.db = db
                .parse()
                .map_err(|_| bad("the database is not a number"))?;
        }
        if segments.next().is_some() {
            return Err(bad("the path is /<master>[/<db>]"));
        }
        if let Some(credentials) = credentials {
            let (user, password) = credentials.split_once(':').unwrap_or(("", credentials));
            builder.username = (!user.is_empty()).then(|| user.to_owned());
            builder.password = (!password.is_empty()).then(|| password.to_owned());
        }
        let (mut replicas, mut timeout) = (None, Duration::from_millis(500));
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "wait" => {
                    replicas = Some(value.parse().map_err(|_| bad("wait is not a count"))?);
                }
                "wait_timeout_ms" => {
                    let ms = value
                        .parse()
                        .map_err(|_| bad("wait_timeout_ms is not a number"))?;
                    timeout = Duration::from_millis(ms);
                }
                other => return Err(bad(&format!("unknown parameter {other:?}"))),
            }
        }
        if let Some(replicas) = replicas.filter(|&n| n > 0) {
            builder = builder.wait_for_replicas(replicas, timeout);
        }
        Ok(builder)
    }

    /// Timeouts for the data nodes (each operation is bounded by `timeouts.operation()`;
    /// finding the master through the sentinels is bounded by `timeouts.connect`).
    #[must_use]
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// After every write, `WAIT replicas timeout` in the same round trip: the write counts
    /// as done only once that many replicas hold it; otherwise the operation fails with
    /// `StoreError::Unavailable` (the write may still be on the master). This bounds what
    /// a failover can lose; see the README. `timeout` must be shorter than the response
    /// timeout, or `connect` refuses it.
    #[must_use]
    pub fn wait_for_replicas(mut self, replicas: u32, timeout: Duration) -> Self {
        self.durability = Some(Durability { replicas, timeout });
        self
    }

    /// The database number on the data nodes (default 0).
    #[must_use]
    pub fn db(mut self, db: i64) -> Self {
        self.db = db;
        self
    }

    /// Credentials for the data nodes (`AUTH [username] password`).
    #[must_use]
    pub fn credentials(mut self, username: Option<&str>, password: &str) -> Self {
        self.username = username.map(str::to_owned);
        self.password = Some(password.to_owned());
        self
    }

    /// Asks the sentinels for the master and connects to it (within
    /// `timeouts.operation()`), failing with `Unavailable` when no sentinel names a master
    /// that answers as one.
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        if let Some(durability) = self.durability
            && durability.timeout >= self.timeouts.response
        {
            return Err(StoreError::backend(format!(
                "wait_for_replicas: the WAIT timeout {:?} must be shorter than the response \
                 timeout {:?}",
                durability.timeout, self.timeouts.response
            )));
        }
        let mut redis = RedisConnectionInfo::default().set_db(self.db);
        if let Some(user) = &self.username {
            redis = redis.set_username(user);
        }
        if let Some(password) = &self.password {
            redis = redis.set_password(password);
        }
        let node = SentinelNodeConnectionInfo::default().set_redis_connection_info(redis);
        let resolver = SentinelClient::build(
            self.sentinels.clone(),
            self.master.clone(),
            Some(node),
            SentinelServerType::Master,
        )
        .map_err(StoreError::backend)?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeouts.connect))
            .set_response_timeout(Some(self.timeouts.response));
        let conn = SentinelConn::new(
            resolver,
            config,
            self.timeouts.connect,
            self.durability,
            self.db,
        );
        bounded(self.timeouts.operation(), async {
            conn.master().await.map(drop).map_err(map_err)
        })
        .await?;
        conn.spawn_watcher();
        Ok(RedisStore::new(Conn::Sentinel(conn), self.timeouts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_sentinels_master_db_and_durability() {
        let b = SentinelBuilder::from_url(
            "redis+sentinel://me:pw@127.0.0.1:26379, 127.0.0.1:26380/mymaster/2?wait=1&wait_timeout_ms=250",
        )
        .expect("valid");
        assert_eq!(
            b.sentinels,
            ["redis://127.0.0.1:26379", "redis://127.0.0.1:26380"]
        );
        assert_eq!(b.master, "mymaster");
        assert_eq!(b.db, 2);
        assert_eq!(b.username.as_deref(), Some("me"));
        assert_eq!(b.password.as_deref(), Some("pw"));
        assert_eq!(
            b.durability,
            Some(Durability {
                replicas: 1,
                timeout: Duration::from_millis(250)
            })
        );
        assert!(!format!("{b:?}").contains("pw\""), "{b:?}");

        let plain = SentinelBuilder::from_url("redis+sentinel://h:1/m").expect("valid");
        assert_eq!((plain.db, plain.durability), (0, None));
    }

    #[test]
    fn bad_urls_are_typed_errors() {
        for url in [
            "redis://h:1/m",
            "redis+sentinel://h:1",
            "redis+sentinel://h:1/",
            "redis+sentinel:///m",
            "redis+sentinel://h:1/m/x",
            "redis+sentinel://h:1/m/0/extra",
            "redis+sentinel://h:1/m?wait=x",
            "redis+sentinel://h:1/m?other=1",
        ] {
            assert!(SentinelBuilder::from_url(url).is_err(), "{url}");
        }
    }
}
