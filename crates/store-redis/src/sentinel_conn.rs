//! The connection behind a Sentinel-managed store: one multiplexed connection to the
//! master the sentinels name, dropped as soon as it fails (I/O error, timeout, a `READONLY`
//! or `MASTERDOWN` reply: the node was demoted or lost its master) so that the next command
//! asks the sentinels again. A failover is followed without restarting anything: commands
//! fail (`Unavailable`) until the sentinels name a new master that answers as one.
//!
//! A watcher task also asks the sentinels every [`WATCH_EVERY`] which node is the master,
//! and drops the connection as soon as they name another: after a promotion, the old
//! master may keep accepting writes until the sentinels reconfigure it (seconds), and
//! every one of those is lost when it becomes a replica of the new master.
//!
//! With a [`Durability`], every write is followed by `WAIT <replicas> <ms>` in the same
//! round trip (a two-command pipeline); a write that fewer replicas acknowledged in time is
//! reported as `Unavailable`, so the caller never treats it as saved.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::sentinel::SentinelClient;
use redis::{
    AsyncConnectionConfig, Cmd, Pipeline, RedisError, RedisFuture, RedisResult, ServerErrorKind,
    Value,
};

/// How many replicas must hold a write before it counts as done, and how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Durability {
    /// `WAIT`'s `numreplicas`.
    pub replicas: u32,
    /// `WAIT`'s timeout (keep it below [`crate::Timeouts::response`]).
    pub timeout: Duration,
}

/// How often the watcher asks the sentinels whether the master is still the same node.
pub(crate) const WATCH_EVERY: Duration = Duration::from_millis(250);

/// Commands the store sends that write nothing, so need no `WAIT`. Anything else does.
const READS: &[&str] = &[
    "HGETALL",
    "HMGET",
    "HGET",
    "HKEYS",
    "HLEN",
    "HEXISTS",
    "GET",
    "MGET",
    "EXISTS",
    "TYPE",
    "TTL",
    "PTTL",
    "ZRANGE",
    "ZRANGEBYSCORE",
    "ZSCORE",
    "ZCARD",
    "SCAN",
    "HSCAN",
    "ZSCAN",
    "SSCAN",
    "SMEMBERS",
    "PING",
    "SCRIPT",
    "INFO",
    "ROLE",
    "WAIT",
    "EVAL_RO",
    "EVALSHA_RO",
];

/// A self-healing connection to whichever node the sentinels call the master. Cheap to
/// clone: clones share the connection and the sentinel client.
#[derive(Clone)]
pub(crate) struct SentinelConn(Arc<Shared>);

struct Shared {
    /// Asks the sentinels; one resolution at a time (the others wait, then reuse it).
    resolver: tokio::sync::Mutex<SentinelClient>,
    /// The master connection, tagged with a generation so that a failure seen on an old
    /// connection never discards a newer one.
    current: Mutex<Option<(u64, MultiplexedConnection)>>,
    /// The address of the node `current` is connected to, with its generation.
    address: Mutex<Option<(u64, String)>>,
    generations: AtomicU64,
    config: AsyncConnectionConfig,
    /// The bound on one resolution (sentinels + the master's `ROLE` + connecting).
    resolve_limit: Duration,
    durability: Option<Durability>,
    db: i64,
}

impl SentinelConn {
    /// A connection that resolves the master through `resolver` on first use.
    pub(crate) fn new(
        resolver: SentinelClient,
        config: AsyncConnectionConfig,
        resolve_limit: Duration,
        durability: Option<Durability>,
        db: i64,
    ) -> Self {
        Self(Arc::new(Shared {
            resolver: tokio::sync::Mutex::new(resolver),
            current: Mutex::new(None),
            address: Mutex::new(None),
            generations: AtomicU64::new(0),
            config,
            resolve_limit,
            durability,
            db,
        }))
    }

    /// Whether every write waits for replicas.
    pub(crate) fn durability(&self) -> Option<Durability> {
        self.0.durability
    }

    fn cached(&self) -> Option<(u64, MultiplexedConnection)> {
        lock(&self.0.current).clone()
    }

    /// The current master connection, asking the sentinels first when there is none.
    pub(crate) async fn master(&self) -> RedisResult<(u64, MultiplexedConnection)> {
        if let Some(current) = self.cached() {
            return Ok(current);
        }
        let mut resolver = self.0.resolver.lock().await;
        // Someone else may have resolved while this one waited for the lock.
        if let Some(current) = self.cached() {
            return Ok(current);
        }
        let resolve = async {
            let client = resolver.async_get_client().await?;
            let address = client.get_connection_info().addr().to_string();
            let conn = client
                .get_multiplexed_async_connection_with_config(&self.0.config)
                .await?;
            Ok::<_, RedisError>((conn, address))
        };
        let (conn, address) = match tokio::time::timeout(self.0.resolve_limit, resolve).await {
            Ok(conn) => conn?,
            Err(_) => {
                return Err(timed_out(format!(
                    "the sentinels named no reachable master within {:?}",
                    self.0.resolve_limit
                )));
            }
        };
        let generation = self.0.generations.fetch_add(1, Ordering::Relaxed) + 1;
        *lock(&self.0.current) = Some((generation, conn.clone()));
        *lock(&self.0.address) = Some((generation, address));
        Ok((generation, conn))
    }

    /// Starts the watcher (see the module docs); it ends with the last clone of this
    /// connection.
    pub(crate) fn spawn_watcher(&self) {
        let shared = Arc::downgrade(&self.0);
        tokio::spawn(watch(shared));
    }

    /// Drops connection `generation` if it is still the current one.
    fn forget(&self, generation: u64) {
        let mut current = lock(&self.0.current);
        if current.as_ref().is_some_and(|(g, _)| *g == generation) {
            *current = None;
        }
    }

    /// Forgets the connection when `result` says the node is gone or no longer the master.
    fn check<T>(&self, generation: u64, result: &RedisResult<T>, replies: &[Value]) {
        let failed = match result {
            Err(e) => connection_lost(e),
            Ok(_) => replies.iter().any(demoted),
        };
        if failed {
            tracing::warn!("store-redis: lost the Sentinel master; asking the sentinels again");
            self.forget(generation);
        }
    }

    async fn command(&self, cmd: &Cmd) -> RedisResult<Value> {
        let (generation, mut conn) = self.master().await?;
        match self.0.durability.filter(|_| writes(cmd)) {
            None => {
                let result = conn.req_packed_command(cmd).await;
                let reply = result.as_ref().map(std::slice::from_ref).unwrap_or(&[]);
                self.check(generation, &result, reply);
                result
            }
            Some(durability) => {
                let mut pipe = redis::pipe();
                pipe.add_command(cmd.clone())
                    .add_command(wait_cmd(durability));
                let result = conn.req_packed_commands(&pipe, 0, 2).await;
                self.check(generation, &result, result.as_deref().unwrap_or(&[]));
                let mut replies = result?.into_iter();
                let (Some(reply), Some(acked)) = (replies.next(), replies.next()) else {
                    return Err(protocol_error("WAIT pipeline returned too few replies"));
                };
                if matches!(reply, Value::ServerError(_)) {
                    return Ok(reply);
                }
                replicated(acked, durability)?;
                Ok(reply)
            }
        }
    }

    async fn commands(
        &self,
        pipeline: &Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        let (generation, mut conn) = self.master().await?;
        let result = conn.req_packed_commands(pipeline, offset, count).await;
        self.check(generation, &result, result.as_deref().unwrap_or(&[]));
        let replies = result?;
        // A pipeline cannot take WAIT inside it without shifting the caller's offsets:
        // one more round trip (the store itself sends no pipelines).
        if let Some(durability) = self.0.durability
            && pipeline.cmd_iter().any(writes)
        {
            let acked = conn.req_packed_command(&wait_cmd(durability)).await;
            self.check(generation, &acked, &[]);
            replicated(acked?, durability)?;
        }
        Ok(replies)
    }
}

/// Every [`WATCH_EVERY`], asks the sentinels for the master (skipped while a lookup is
/// running anyway) and forgets the connection when they name another node than the one
/// it is connected to. A failed lookup changes nothing: commands see the failure
/// themselves.
async fn watch(shared: Weak<Shared>) {
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let Some((generation, connected)) = lock(&shared.address).clone() else {
            continue;
        };
        let Ok(mut resolver) = shared.resolver.try_lock() else {
            continue;
        };
        let named = tokio::time::timeout(shared.resolve_limit, resolver.async_get_client()).await;
        drop(resolver);
        if let Ok(Ok(client)) = named
            && client.get_connection_info().addr().to_string() != connected
        {
            tracing::warn!("store-redis: the sentinels name a new master; reconnecting");
            SentinelConn(shared).forget(generation);
        }
    }
}

impl ConnectionLike for SentinelConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(self.command(cmd))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(self.commands(pipeline, offset, count))
    }

    fn get_db(&self) -> i64 {
        self.0.db
    }
}

fn wait_cmd(durability: Durability) -> Cmd {
    let mut wait = redis::cmd("WAIT");
    let ms = u64::try_from(durability.timeout.as_millis()).unwrap_or(u64::MAX);
    // WAIT 0 means "forever": never send it.
    wait.arg(durability.replicas).arg(ms.max(1));
    wait
}

/// Whether `cmd` may write (its name is not a known read).
fn writes(cmd: &Cmd) -> bool {
    let Some(redis::Arg::Simple(name)) = cmd.args_iter().next() else {
        return true;
    };
    !READS
        .iter()
        .any(|r| r.as_bytes().eq_ignore_ascii_case(name))
}

/// `Ok` when `WAIT` answered at least the required count.
fn replicated(acked: Value, durability: Durability) -> RedisResult<()> {
    match acked {
        Value::Int(n) if n >= i64::from(durability.replicas) => Ok(()),
        Value::Int(n) => Err(timed_out(format!(
            "the write reached {n} of the {} replicas required within {:?}: not confirmed",
            durability.replicas, durability.timeout
        ))),
        Value::ServerError(e) => Err(e.into()),
        other => Err(protocol_error(&format!("unexpected WAIT reply {other:?}"))),
    }
}

/// The errors after which this connection is useless: the node is down, unreachable, or
/// the socket broke.
fn connection_lost(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
        || matches!(
            e.kind(),
            redis::ErrorKind::Server(ServerErrorKind::ReadOnly | ServerErrorKind::MasterDown)
        )
}

/// A reply that says the node is no longer a usable master.
fn demoted(reply: &Value) -> bool {
    match reply {
        Value::ServerError(e) => {
            matches!(
                e.kind(),
                Some(ServerErrorKind::ReadOnly | ServerErrorKind::MasterDown)
            ) || e.details().is_some_and(|d| d.contains("READONLY"))
        }
        _ => false,
    }
}

fn timed_out(message: String) -> RedisError {
    RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, message))
}

fn protocol_error(message: &str) -> RedisError {
    RedisError::from((
        redis::ErrorKind::UnexpectedReturnType,
        "store-redis",
        message.to_owned(),
    ))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_need_no_wait_and_everything_else_does() {
        assert!(!writes(redis::cmd("HGETALL").arg("k")));
        assert!(!writes(redis::cmd("hmget").arg("k")));
        assert!(writes(redis::cmd("EVALSHA").arg("abc")));
        assert!(writes(redis::cmd("ZREM").arg("k")));
        assert!(writes(redis::cmd("DEL").arg("k")));
    }

    #[test]
    fn too_few_replicas_is_an_unavailable_error() {
        let durability = Durability {
            replicas: 2,
            timeout: Duration::from_millis(10),
        };
        assert!(replicated(Value::Int(2), durability).is_ok());
        let short = replicated(Value::Int(1), durability).expect_err("1 of 2");
        assert!(short.is_timeout(), "{short}");
        assert!(replicated(Value::Nil, durability).is_err());
    }
}
