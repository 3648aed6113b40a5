//! A throwaway MongoDB stand-in for the test matrix: SecantusDB, a MongoDB wire-protocol
//! server from PyPI, run from a venv under the target directory.
//!
//! [`start`] creates `<target_dir>/secantus-venv` (once), installs the pinned package into
//! it (once), starts `xtask/secantus_server.py` on a free loopback port (in-memory storage,
//! TTL sweep every second) and waits until the port accepts connections. The returned
//! [`MongoServer`] stops the server when dropped. The server also exits by itself when its
//! stdin closes, so it never outlives this process.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The pinned SecantusDB release.
pub(crate) const VERSION: &str = "0.7.0b3";
/// The server script, embedded so it need not be found at run time.
const SCRIPT: &str = include_str!("../secantus_server.py");
/// How long the server gets to start listening (the first import is slow).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running SecantusDB server; stopped on [`MongoServer::stop`] or drop.
pub struct MongoServer {
    child: Child,
    /// Held open: the server exits when it reaches end-of-file.
    stdin: Option<ChildStdin>,
    uri: String,
}

impl MongoServer {
    /// The connection string, `mongodb://127.0.0.1:<port>`.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Stops the server and waits for it to exit.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // Closing stdin asks the script to stop cleanly; kill it if it takes too long.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for MongoServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Installs SecantusDB under `target_dir` if needed and starts a server on a free port.
pub fn start(target_dir: &Path) -> Result<MongoServer, String> {
    let venv = venv_dir(target_dir);
    let python = ensure_venv(&venv)?;
    let script = venv.join("secantus_server.py");
    fs::write(&script, SCRIPT).map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let port = free_port()?;
    let log_path = target_dir.join(format!("secantus-{port}.log"));
    let log = fs::File::create(&log_path)
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
    let mut child = Command::new(&python)
        .arg(&script)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
    let stdin = child.stdin.take();
    let mut server = MongoServer {
        child,
        stdin,
        uri: format!("mongodb://127.0.0.1:{port}"),
    };
    wait_listening(&mut server.child, port).map_err(|e| {
        format!(
            "SecantusDB did not start: {e}\n{}",
            crate::services::log_tail(&log_path)
        )
    })?;
    Ok(server)
}

/// The SecantusDB venv under `target_dir`.
pub(crate) fn venv_dir(target_dir: &Path) -> PathBuf {
    target_dir.join("secantus-venv")
}

/// The venv's python.
fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// Whether the venv exists and holds the pinned release.
pub(crate) fn venv_ready(venv: &Path) -> bool {
    let python = venv_python(venv);
    let code = format!(
        "import importlib.metadata as m, secantus; assert m.version('secantusdb') == '{VERSION}'"
    );
    python.exists()
        && succeeds(
            Command::new(&python)
                .args(["-c", &code])
                .stderr(Stdio::null()),
        )
}

/// The venv's python, after creating the venv and installing the package if needed.
pub(crate) fn ensure_venv(venv: &Path) -> Result<PathBuf, String> {
    let python = venv_python(venv);
    if !python.exists() {
        let venv_arg = venv.as_os_str();
        let created = ["python3", "python"].iter().any(|interpreter| {
            Command::new(interpreter)
                .args(["-m".as_ref(), "venv".as_ref(), venv_arg])
                .status()
                .is_ok_and(|s| s.success())
        });
        if !created {
            return Err(format!(
                "cannot create a Python venv at {} (python3 -m venv failed)",
                venv.display()
            ));
        }
    }
    let package = format!("secantusdb=={VERSION}");
    if !venv_ready(venv) {
        let installed = succeeds(Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &package,
        ]));
        if !installed {
            return Err(format!(
                "pip install {package} failed in {}",
                venv.display()
            ));
        }
    }
    Ok(python)
}

fn succeeds(command: &mut Command) -> bool {
    command
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A loopback port that was free a moment ago.
fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

/// Polls until `port` accepts a connection, the child exits, or the timeout passes.
fn wait_listening(child: &mut Child, port: u16) -> Result<(), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the server exited with {status}"));
        }
        if Instant::now() >= deadline {
            return Err(format!("nothing listens on {addr} after {START_TIMEOUT:?}"));
        }
        sleep(Duration::from_millis(100));
    }
}
