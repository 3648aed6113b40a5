//! The services the store matrix needs. Each comes from its environment variable when set;
//! otherwise the local default is used, started here when it is not running. A service that
//! cannot be reached is an error: tests never skip silently.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::mongo::{self, MongoServer};
use crate::redis_cluster::{self, RedisCluster};
use crate::redis_sentinel::{self, SentinelTopology};

/// Running services and the environment that points tests at them. Services started here
/// stop when this is dropped.
pub struct Services {
    env: Vec<(&'static str, String)>,
    _cluster: Option<RedisCluster>,
    _sentinel: Option<SentinelTopology>,
    mongo: Option<MongoServer>,
}

impl Drop for Services {
    fn drop(&mut self) {
        if let Some(mongo) = self.mongo.take() {
            mongo.stop();
        }
    }
}

const POSTGRES_DEFAULT: &str = "postgres://root@127.0.0.1:5432/test";
const REDIS_DEFAULT: &str = "redis://127.0.0.1:6379";

impl Services {
    pub fn start() -> Result<Self, String> {
        let mut env = vec![("POSTGRES_URL", postgres()?), ("REDIS_URL", redis()?)];
        let (cluster_urls, cluster) = redis_cluster()?;
        env.push(("REDIS_CLUSTER_URLS", cluster_urls));
        let (sentinel_url, sentinel) = redis_sentinel()?;
        env.push(("REDIS_SENTINEL_URL", sentinel_url));
        let (mongo_uri, mongo) = mongo()?;
        env.push(("MONGO_URI", mongo_uri));
        Ok(Self {
            env,
            _cluster: cluster,
            _sentinel: sentinel,
            mongo,
        })
    }

    pub fn env(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.env.iter().map(|(k, v)| (*k, v.as_str()))
    }

    pub fn export_to(&self, command: &mut Command) {
        for (name, value) in self.env() {
            command.env(name, value);
        }
    }
}

fn postgres() -> Result<String, String> {
    let url = std::env::var("POSTGRES_URL").unwrap_or_else(|_| POSTGRES_DEFAULT.into());
    ensure_listening("PostgreSQL", &url, || {
        let versions = std::fs::read_dir("/etc/postgresql").map_err(|e| e.to_string())?;
        for version in versions.flatten() {
            let version = version.file_name().to_string_lossy().into_owned();
            sh(Command::new("pg_ctlcluster").args([
                "--skip-systemctl-redirect",
                &version,
                "main",
                "start",
            ]))?;
        }
        Ok(())
    })?;
    Ok(url)
}

fn redis() -> Result<String, String> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| REDIS_DEFAULT.into());
    ensure_listening("Redis", &url, || {
        sh(Command::new("redis-server").args([
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ]))
    })?;
    Ok(url)
}

/// `REDIS_CLUSTER_URLS` when set; otherwise a private 3-master cluster on free ports from
/// 7100 up.
fn redis_cluster() -> Result<(String, Option<RedisCluster>), String> {
    if let Ok(urls) = std::env::var("REDIS_CLUSTER_URLS") {
        eprintln!("xtask: Redis Cluster at {urls}");
        return Ok((urls, None));
    }
    let dir = target_dir().join("redis-cluster");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let cluster = redis_cluster::start(free_cluster_base()?, &dir)?;
    let urls = cluster.urls().join(",");
    eprintln!("xtask: started Redis Cluster at {urls}");
    Ok((urls, Some(cluster)))
}

/// `REDIS_SENTINEL_URL` when set; otherwise a private master, two replicas and three
/// sentinels on free ports.
fn redis_sentinel() -> Result<(String, Option<SentinelTopology>), String> {
    if let Ok(url) = std::env::var("REDIS_SENTINEL_URL") {
        eprintln!("xtask: Redis Sentinel at {url}");
        return Ok((url, None));
    }
    let topology = redis_sentinel::start(&target_dir().join("redis-sentinel"))?;
    let url = topology.url();
    eprintln!("xtask: started Redis Sentinel (1 master, 2 replicas, 3 sentinels) at {url}");
    Ok((url, Some(topology)))
}

/// A base port from 7100 up where three nodes and their cluster-bus ports (+10000) are
/// free, so that several runs (or a developer's `cargo xtask services`) can coexist.
fn free_cluster_base() -> Result<u16, String> {
    let free = |port: u16| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
    (7100..7900)
        .step_by(10)
        .find(|base| (0..3).all(|i| free(base + i) && free(base + i + 10_000)))
        .ok_or_else(|| "no free ports for a Redis Cluster in 7100..7900".to_owned())
}

/// `MONGO_URI` when set; otherwise the SecantusDB stand-in on a free loopback port.
fn mongo() -> Result<(String, Option<MongoServer>), String> {
    if let Ok(uri) = std::env::var("MONGO_URI") {
        eprintln!("xtask: MongoDB at {uri}");
        return Ok((uri, None));
    }
    let server = mongo::start(&target_dir())?;
    let uri = server.uri().to_owned();
    eprintln!("xtask: started SecantusDB (MongoDB wire protocol) at {uri}");
    Ok((uri, Some(server)))
}

/// The workspace's target directory (where services keep their files).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("target"),
    }
}

/// Checks that `url`'s host:port accepts connections; for a local default that does not,
/// runs `start` once and waits for it.
fn ensure_listening(
    name: &str,
    url: &str,
    start: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    let addr =
        socket_addr(url).ok_or_else(|| format!("{name}: cannot parse host:port of {url}"))?;
    if listening(addr) {
        eprintln!("xtask: {name} at {url}");
        return Ok(());
    }
    if !addr.ip().is_loopback() {
        return Err(format!("{name} at {url} is unreachable"));
    }
    eprintln!("xtask: {name} not running at {url}; starting it");
    start().map_err(|e| format!("{name}: could not start: {e}"))?;
    wait_listening(addr, Duration::from_secs(30))
        .map_err(|()| format!("{name} at {url} did not come up within 30 s"))
}

pub fn wait_listening(addr: SocketAddr, limit: Duration) -> Result<(), ()> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if listening(addr) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(())
}

fn listening(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// `host:port` of a `scheme://[user@]host:port[/…]` URL.
pub fn socket_addr(url: &str) -> Option<SocketAddr> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    host_port.to_socket_addrs().ok()?.next()
}

fn sh(command: &mut Command) -> Result<(), String> {
    let status = command.status().map_err(|e| format!("{command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?}: {status}"))
    }
}

/// The end of a server's log file, for error messages.
pub fn log_tail(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(20)..];
            format!("{} (last lines):\n{}", path.display(), tail.join("\n"))
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}
