//! A throwaway Redis Sentinel deployment on loopback: one master, two replicas and three
//! sentinels (`redis-server --sentinel`), each on a free port with its own directory and
//! log file, for `cargo xtask test-all` and for the examples' failover test (which
//! includes this file with `#[path]`, so it stays std only and self-contained).
//!
//! [`start`] returns once both replicas are in sync and every sentinel sees the master,
//! both replicas and the two other sentinels. Dropping the [`SentinelTopology`] kills
//! every process.

use std::fs;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The name the sentinels monitor the master under.
pub const MASTER_NAME: &str = "sessions";
/// How long the sentinels wait before calling an unanswering master down: short, so a
/// failover test measures a failover, not this setting.
const DOWN_AFTER_MS: u32 = 1000;
/// Sentinel's `failover-timeout` (also the pause before retrying a failed failover).
const FAILOVER_TIMEOUT_MS: u32 = 5000;
/// How long the deployment may take to become healthy.
const READY_WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);

/// The running processes. Dropping it kills them.
pub struct SentinelTopology {
    master: Node,
    replicas: Vec<Node>,
    sentinels: Vec<Node>,
}

/// One `redis-server` process.
pub struct Node {
    /// Its loopback port.
    pub port: u16,
    child: Option<Child>,
    log: PathBuf,
}

impl Node {
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Already gone is fine: the point is that it is gone.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl SentinelTopology {
    /// `redis+sentinel://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/sessions`, the form
    /// `store_redis::SentinelBuilder::from_url` and `SESSION_STORE` take.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect();
        format!("redis+sentinel://{}/{MASTER_NAME}", hosts.join(","))
    }

    /// The port of the master it started with.
    pub fn master_port(&self) -> u16 {
        self.master.port
    }

    /// The ports of the two replicas it started with.
    pub fn replica_ports(&self) -> Vec<u16> {
        self.replicas.iter().map(|r| r.port).collect()
    }

    /// SIGKILLs the master it started with (a crash: nothing flushed) and waits for it to
    /// exit. The sentinels then promote a replica.
    pub fn kill_master(&mut self) {
        self.master.kill();
    }

    /// The address the sentinels currently give for the master (`SENTINEL
    /// GET-MASTER-ADDR-BY-NAME`), as `host:port`, from the first sentinel that answers.
    pub fn current_master(&self) -> Option<String> {
        self.sentinels.iter().find_map(|s| {
            let out = redis_cli(
                s.port,
                &["sentinel", "get-master-addr-by-name", MASTER_NAME],
            )
            .ok()?;
            let mut lines = out.lines().map(str::trim).filter(|l| !l.is_empty());
            Some(format!("{}:{}", lines.next()?, lines.next()?))
        })
    }
}

impl Drop for SentinelTopology {
    fn drop(&mut self) {
        for node in self
            .sentinels
            .iter_mut()
            .chain(self.replicas.iter_mut())
            .chain(std::iter::once(&mut self.master))
        {
            node.kill();
        }
    }
}

/// Starts the deployment with its files under `dir` (created if needed; a previous run's
/// files there are replaced). Fails with a readable message when a binary is missing, a
/// process dies or the deployment does not become healthy in time; processes started so
/// far are killed then.
pub fn start(dir: &Path) -> Result<SentinelTopology, String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("cannot resolve {}: {e}", dir.display()))?;
    let master = spawn_data_node(&dir, None)?;
    let mut topology = SentinelTopology {
        replicas: Vec::new(),
        sentinels: Vec::new(),
        master,
    };
    let master_port = topology.master.port;
    for _ in 0..2 {
        topology
            .replicas
            .push(spawn_data_node(&dir, Some(master_port))?);
    }
    for _ in 0..3 {
        topology.sentinels.push(spawn_sentinel(&dir, master_port)?);
    }
    wait_ready(&mut topology)?;
    Ok(topology)
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

fn node_dir(dir: &Path, port: u16) -> Result<PathBuf, String> {
    let node_dir = dir.join(format!("node-{port}"));
    // A previous run's files (a sentinel rewrites its config) must not leak in.
    let _ = fs::remove_dir_all(&node_dir);
    fs::create_dir_all(&node_dir)
        .map_err(|e| format!("cannot create {}: {e}", node_dir.display()))?;
    Ok(node_dir)
}

fn spawn(port: u16, node_dir: &Path, args: &[String]) -> Result<Node, String> {
    let log = node_dir.join("redis.log");
    let child = Command::new("redis-server")
        .args(args)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir"])
        .arg(node_dir)
        .arg("--logfile")
        .arg(&log)
        .args(["--daemonize", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run redis-server (is it installed?): {e}"))?;
    Ok(Node {
        port,
        child: Some(child),
        log,
    })
}

/// A master (`replica_of` = None) or a replica of the master on `replica_of`, without
/// persistence.
fn spawn_data_node(dir: &Path, replica_of: Option<u16>) -> Result<Node, String> {
    let port = free_port()?;
    let node_dir = node_dir(dir, port)?;
    let mut args: Vec<String> = ["--save", "", "--appendonly", "no"]
        .map(str::to_owned)
        .to_vec();
    if let Some(master) = replica_of {
        args.extend(["--replicaof".into(), "127.0.0.1".into(), master.to_string()]);
    }
    spawn(port, &node_dir, &args)
}

fn spawn_sentinel(dir: &Path, master_port: u16) -> Result<Node, String> {
    let port = free_port()?;
    let node_dir = node_dir(dir, port)?;
    let config = node_dir.join("sentinel.conf");
    let text = format!(
        "sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n\
         sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n\
         sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n\
         sentinel parallel-syncs {MASTER_NAME} 1\n"
    );
    fs::write(&config, text).map_err(|e| format!("cannot write {}: {e}", config.display()))?;
    let args = [config.display().to_string(), "--sentinel".to_owned()];
    spawn(port, &node_dir, &args)
}

fn redis_cli(port: u16, args: &[&str]) -> Result<String, String> {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run redis-cli (is it installed?): {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn check_alive(node: &mut Node) -> Result<(), String> {
    let Some(child) = node.child.as_mut() else {
        return Ok(());
    };
    match child.try_wait() {
        Ok(None) => Ok(()),
        Ok(Some(status)) => Err(format!(
            "redis-server on port {} exited ({status}); see {}",
            node.port,
            node.log.display()
        )),
        Err(e) => Err(format!("cannot check redis-server on {}: {e}", node.port)),
    }
}

/// What is not ready yet, or `None` when everything is.
fn pending(t: &SentinelTopology) -> Option<String> {
    if let Some(n) = std::iter::once(&t.master)
        .chain(&t.replicas)
        .chain(&t.sentinels)
        .find(|n| TcpStream::connect((Ipv4Addr::LOCALHOST, n.port)).is_err())
    {
        return Some(format!("port {} does not listen", n.port));
    }
    for replica in &t.replicas {
        let info = redis_cli(replica.port, &["info", "replication"]).unwrap_or_default();
        if !info.contains("master_link_status:up") {
            return Some(format!("replica {} is not in sync", replica.port));
        }
    }
    for sentinel in &t.sentinels {
        let out =
            redis_cli(sentinel.port, &["sentinel", "master", MASTER_NAME]).unwrap_or_default();
        let lines: Vec<&str> = out.lines().map(str::trim).collect();
        let field = |name: &str| {
            lines
                .iter()
                .position(|l| *l == name)
                .and_then(|i| lines.get(i + 1).copied())
        };
        if field("num-slaves") != Some("2") || field("num-other-sentinels") != Some("2") {
            return Some(format!(
                "sentinel {} does not see both replicas and both other sentinels yet",
                sentinel.port
            ));
        }
    }
    None
}

fn wait_ready(t: &mut SentinelTopology) -> Result<(), String> {
    let started = Instant::now();
    loop {
        for node in std::iter::once(&mut t.master)
            .chain(t.replicas.iter_mut())
            .chain(t.sentinels.iter_mut())
        {
            check_alive(node)?;
        }
        let Some(what) = pending(t) else {
            return Ok(());
        };
        if started.elapsed() > READY_WAIT {
            return Err(format!(
                "Redis Sentinel deployment not ready within {READY_WAIT:?}: {what}"
            ));
        }
        sleep(POLL);
    }
}
