//! A throwaway three-master Redis Cluster on loopback, for `cargo xtask test-all`.
//!
//! Std only: `redis-server` and `redis-cli` run as child processes. [`start`] launches one
//! `redis-server --cluster-enabled yes` per port (each with its own directory and log
//! file), joins them with `redis-cli --cluster create`, and waits until every node reports
//! `cluster_state:ok`. Dropping the returned [`RedisCluster`] kills the nodes.

use std::fs;
use std::io::ErrorKind;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How many master nodes the cluster gets (no replicas).
const NODES: u16 = 3;
/// How long a node may take to accept connections.
const LISTEN_WAIT: Duration = Duration::from_secs(10);
/// How long the cluster may take to reach `cluster_state:ok` once created.
const STATE_WAIT: Duration = Duration::from_secs(30);
/// Pause between polls.
const POLL: Duration = Duration::from_millis(100);

/// The running nodes. Dropping it kills them.
pub struct RedisCluster {
    nodes: Vec<Node>,
}

struct Node {
    port: u16,
    child: Child,
    log: PathBuf,
}

impl RedisCluster {
    /// The node URLs (`redis://127.0.0.1:PORT`), e.g. to join with `,` into
    /// `REDIS_CLUSTER_URLS`.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("redis://127.0.0.1:{}", n.port))
            .collect()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            // Already gone is fine: there is nothing else to do on the way out.
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
    }
}

/// Starts a cluster of three masters on `base_port`, `base_port + 1`, `base_port + 2`,
/// keeping each node's files under `dir` (created if needed; stale `nodes-*.conf` files
/// there are removed first).
///
/// Fails with a readable message when a port is taken, a binary is missing, a node dies
/// or the cluster does not become healthy in time; nodes started so far are killed then.
pub fn start(base_port: u16, dir: &Path) -> Result<RedisCluster, String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("cannot resolve {}: {e}", dir.display()))?;
    remove_stale_configs(&dir)?;

    let ports: Vec<u16> = (0..NODES)
        .map(|i| base_port.checked_add(i))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("base port {base_port} leaves no room for {NODES} nodes"))?;
    if let Some(busy) = ports.iter().find(|&&p| listening(p)) {
        return Err(format!(
            "port {busy} is already in use: stop whatever listens there or pick another base port"
        ));
    }

    let mut cluster = RedisCluster { nodes: Vec::new() };
    for &port in &ports {
        cluster.nodes.push(spawn_node(port, &dir)?);
    }
    for node in &mut cluster.nodes {
        wait_listening(node)?;
    }
    create_cluster(&ports)?;
    wait_state_ok(&mut cluster)?;
    Ok(cluster)
}

fn remove_stale_configs(dir: &Path) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("nodes-") && name.ends_with(".conf") {
            match fs::remove_file(entry.path()) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(format!("cannot remove stale {name}: {e}")),
            }
        }
    }
    Ok(())
}

fn spawn_node(port: u16, dir: &Path) -> Result<Node, String> {
    let node_dir = dir.join(format!("node-{port}"));
    fs::create_dir_all(&node_dir)
        .map_err(|e| format!("cannot create {}: {e}", node_dir.display()))?;
    let log = node_dir.join("redis.log");
    let child = Command::new("redis-server")
        .arg("--port")
        .arg(port.to_string())
        .args(["--cluster-enabled", "yes", "--cluster-config-file"])
        .arg(dir.join(format!("nodes-{port}.conf")))
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .args(["--bind", "127.0.0.1", "--dir"])
        .arg(&node_dir)
        .arg("--logfile")
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run redis-server (is it installed?): {e}"))?;
    Ok(Node { port, child, log })
}

fn listening(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

fn wait_listening(node: &mut Node) -> Result<(), String> {
    let started = Instant::now();
    while !listening(node.port) {
        check_alive(node)?;
        if started.elapsed() > LISTEN_WAIT {
            return Err(format!(
                "redis-server on port {} did not listen within {LISTEN_WAIT:?}; see {}",
                node.port,
                node.log.display()
            ));
        }
        sleep(POLL);
    }
    Ok(())
}

fn check_alive(node: &mut Node) -> Result<(), String> {
    match node.child.try_wait() {
        Ok(None) => Ok(()),
        Ok(Some(status)) => Err(format!(
            "redis-server on port {} exited ({status}); see {}",
            node.port,
            node.log.display()
        )),
        Err(e) => Err(format!(
            "cannot check redis-server on port {}: {e}",
            node.port
        )),
    }
}

fn create_cluster(ports: &[u16]) -> Result<(), String> {
    let out = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(ports.iter().map(|p| format!("127.0.0.1:{p}")))
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run redis-cli (is it installed?): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "redis-cli --cluster create failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn cluster_state(port: u16) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .args(["cluster", "info"])
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.trim().strip_prefix("cluster_state:").map(str::to_owned))
            .unwrap_or_else(|| "unknown".to_owned()),
        Err(e) => format!("redis-cli failed: {e}"),
    }
}

fn wait_state_ok(cluster: &mut RedisCluster) -> Result<(), String> {
    let started = Instant::now();
    loop {
        let mut pending = None;
        for node in &mut cluster.nodes {
            check_alive(node)?;
            let state = cluster_state(node.port);
            if state != "ok" {
                pending = Some((node.port, state));
                break;
            }
        }
        let Some((port, state)) = pending else {
            return Ok(());
        };
        if started.elapsed() > STATE_WAIT {
            return Err(format!(
                "redis cluster not healthy within {STATE_WAIT:?}: node {port} reports cluster_state:{state}"
            ));
        }
        sleep(POLL);
    }
}
