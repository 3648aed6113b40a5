//! One connection type over standalone, cluster and Sentinel deployments, its timeouts, and how
//! driver errors map onto [`StoreError`].

use std::future::Future;
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, ServerErrorKind, Value};
use session_core::store::StoreError;

use crate::runtime_conn::RuntimeConn;
use crate::sentinel_conn::SentinelConn;

/// How long the store waits for Redis before reporting [`StoreError::Unavailable`].
///
/// During an outage every operation fails within [`Timeouts::operation`]; the connection
/// reconnects by itself once Redis is back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Bound on establishing one TCP connection (and its handshake) to a node.
    pub connect: Duration,
    /// Bound on waiting for the answer to one command.
    pub response: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(2),
            response: Duration::from_secs(2),
        }
    }
}

impl Timeouts {
    /// The hard bound on one store operation: `connect + response`.
    pub fn operation(&self) -> Duration {
        self.connect.saturating_add(self.response)
    }
}

/// A multiplexed, self-reconnecting connection to either deployment. Cheap to clone.
#[derive(Clone)]
pub(crate) enum Conn {
    /// A single server (or a proxy in front of many), with a connection per
    /// single-threaded runtime (see `runtime_conn`).
    Standalone(RuntimeConn),
    /// A Redis Cluster, routed per key slot.
    Cluster(ClusterConnection),
    /// The master a set of sentinels names, followed across failovers.
    Sentinel(SentinelConn),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Standalone(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
            Self::Sentinel(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Standalone(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Sentinel(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Standalone(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
            Self::Sentinel(c) => c.get_db(),
        }
    }
}

/// Connectivity problems become `Unavailable`, everything else `Backend`.
pub(crate) fn map_err(e: RedisError) -> StoreError {
    let unavailable = e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || matches!(
            e.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(
                    ServerErrorKind::BusyLoading
                        | ServerErrorKind::ClusterDown
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::ReadOnly
                )
        );
    if unavailable {
        StoreError::unavailable(e)
    } else {
        StoreError::backend(e)
    }
}

/// Runs `fut`, turning "no answer within `limit`" into `Unavailable`.
pub(crate) async fn bounded<T>(
    limit: Duration,
    fut: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::unavailable(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("Redis did not answer within {limit:?}"),
        ))),
    }
}
