//! Private store servers a test can kill and restart on the same loopback port, or freeze
//! (SIGSTOP) and thaw (SIGCONT): a `redis-server` without persistence, SecantusDB (a
//! MongoDB wire-protocol server from PyPI, run the way `cargo xtask` runs it:
//! `xtask/secantus_server.py` in a venv), and a private PostgreSQL cluster.
//!
//! Every signal reaches the server's whole process tree (PostgreSQL's backends are
//! children of the postmaster). Unix only, like the rest of the test harness.

mod postgres;
mod procs;

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use super::temp_path;

/// The SecantusDB release `cargo xtask` pins.
const SECANTUS_VERSION: &str = "0.7.0b3";
/// The server script `cargo xtask` runs, shared rather than copied.
const SECANTUS_SCRIPT: &str = include_str!("../../../../xtask/secantus_server.py");
/// The venv directory's name, under a target directory.
const SECANTUS_VENV: &str = "secantus-venv";
/// How long a server may take to listen (SecantusDB's first import is slow).
const LISTEN_TIMEOUT: Duration = Duration::from_secs(60);

/// A store server on a fixed loopback port. Dropping it kills the server.
pub struct Daemon {
    name: &'static str,
    port: u16,
    program: String,
    args: Vec<String>,
    /// A file or directory to delete with the daemon (SecantusDB's script, PostgreSQL's
    /// cluster).
    scratch: Option<PathBuf>,
    log: PathBuf,
    child: Option<Child>,
    /// Held open while SecantusDB runs: it exits when its stdin closes.
    stdin: Option<ChildStdin>,
    /// The processes [`Daemon::freeze`] stopped, until [`Daemon::thaw`].
    frozen: Vec<u32>,
}

impl Daemon {
    /// Starts `redis-server --port P --save "" --appendonly no` on a free port.
    pub async fn redis() -> Self {
        let port = free_port();
        let args = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ];
        let args = args.map(str::to_owned).to_vec();
        Self::launch("redis-server", port, "redis-server".to_owned(), args, None).await
    }

    /// Starts SecantusDB on a free port, from the venv `cargo xtask` made under a target
    /// directory above `bin` (created there with `pip install` when there is none).
    pub async fn secantus(bin: &str) -> Self {
        let python = secantus_python(Path::new(bin))
            .unwrap_or_else(|e| panic!("SecantusDB: {e} (`cargo xtask services` installs it)"));
        let script = temp_path("py");
        std::fs::write(&script, SECANTUS_SCRIPT)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", script.display()));
        let port = free_port();
        let args = vec![script.display().to_string(), port.to_string()];
        let python = python.display().to_string();
        Self::launch("SecantusDB", port, python, args, Some(script)).await
    }

    /// Creates a fresh PostgreSQL cluster (see the `postgres` module: `initdb`, as the
    /// `postgres` user when this process is root) and starts its server on a free port
    /// from 55432 up. Connect as `postgres://postgres@127.0.0.1:<port>/postgres`. Panics,
    /// naming what is missing or failed, when the cluster cannot be made.
    pub async fn postgres() -> Self {
        let cluster =
            postgres::create().unwrap_or_else(|e| panic!("cannot make a PostgreSQL cluster: {e}"));
        let (name, port, root) = ("PostgreSQL", cluster.port, Some(cluster.root));
        Self::launch(name, port, cluster.program, cluster.args, root).await
    }

    async fn launch(
        name: &'static str,
        port: u16,
        program: String,
        args: Vec<String>,
        scratch: Option<PathBuf>,
    ) -> Self {
        let mut daemon = Self {
            name,
            port,
            program,
            args,
            scratch,
            log: temp_path("log"),
            child: None,
            stdin: None,
            frozen: Vec::new(),
        };
        daemon.start().await;
        daemon
    }

    /// The loopback port it listens on, across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills the server and its descendants (SIGKILL: a crash, nothing flushed, frozen
    /// or not) and waits for all of them to exit.
    pub fn kill(&mut self) {
        drop(self.stdin.take());
        self.frozen.clear();
        if let Some(mut child) = self.child.take() {
            if matches!(child.try_wait(), Ok(None)) {
                procs::kill_tree(child.id());
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server: SIGSTOP to it and every descendant, returning once all of them
    /// are stopped. Its sockets stay open and the kernel still accepts connections, but
    /// nothing answers until [`Daemon::thaw`]. Panics when it is not running.
    pub fn freeze(&mut self) {
        let pid = match self.child.as_mut().map(|c| (c.id(), c.try_wait())) {
            Some((pid, Ok(None))) => pid,
            _ => panic!("{} is not running: nothing to freeze", self.name),
        };
        self.frozen = procs::stop_tree(pid);
    }

    /// Thaws what [`Daemon::freeze`] stopped (SIGCONT).
    pub fn thaw(&mut self) {
        procs::continue_all(&std::mem::take(&mut self.frozen));
    }

    /// Starts the server (again) on the same port and waits until it accepts connections;
    /// panics with the end of its log when it does not.
    pub async fn start(&mut self) {
        self.kill();
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .and_then(|f| Ok((f.try_clone()?, f)))
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.log.display()));
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::piped())
            .stdout(log.0)
            .stderr(log.1)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {} for {}: {e}", self.program, self.name));
        self.stdin = child.stdin.take();
        self.child = Some(child);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let started = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if !self.is_running() || started.elapsed() > LISTEN_TIMEOUT {
                panic!(
                    "{} did not listen on {addr} within {LISTEN_TIMEOUT:?}:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
        match &self.scratch {
            Some(dir) if dir.is_dir() => drop(std::fs::remove_dir_all(dir)),
            Some(file) => drop(std::fs::remove_file(file)),
            None => {}
        }
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

/// The python of a SecantusDB venv: the nearest `secantus-venv` above `bin`, or a new one
/// in `bin`'s target directory (`<target>/debug/<bin>`).
fn secantus_python(bin: &Path) -> Result<PathBuf, String> {
    let python_in = |venv: &Path| venv.join("bin").join("python");
    let found = bin
        .ancestors()
        .map(|dir| python_in(&dir.join(SECANTUS_VENV)))
        .find(|python| python.exists());
    let python = match found {
        Some(python) => python,
        None => {
            let target = bin
                .parent()
                .and_then(Path::parent)
                .ok_or_else(|| format!("no target directory above {}", bin.display()))?;
            let venv = target.join(SECANTUS_VENV);
            run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
            python_in(&venv)
        }
    };
    let check = format!(
        "import importlib.metadata as m, secantus; assert m.version('secantusdb') == '{SECANTUS_VERSION}'"
    );
    if run(Command::new(&python).args(["-c", &check])).is_err() {
        let package = format!("secantusdb=={SECANTUS_VERSION}");
        run(Command::new(&python).args(["-m", "pip", "install", "--quiet", &package]))?;
    }
    Ok(python)
}

fn run(command: &mut Command) -> Result<(), String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{command:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
