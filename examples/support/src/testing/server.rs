//! An example binary running as a child process on a free loopback port.

use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use session_core::test_suite::SessionId;

/// How long a binary may take to answer `/health`.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The store a test server runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    /// `memory:`.
    Memory,
    /// A fresh SQLite file, deleted when the server stops.
    Sqlite,
}

/// A base64 cookie key, for servers that must share sessions (pass it to each).
pub fn test_key() -> String {
    // 32 random bytes in base64url: a valid key.
    SessionId::generate().expose()
}

/// A running example process; dropping it kills the process and deletes its files.
pub struct Server {
    child: Child,
    base: String,
    log: PathBuf,
    files: Vec<PathBuf>,
}

impl Server {
    /// Starts `bin` on `backend` with a fresh key; panics when it does not come up.
    pub async fn start(bin: &str, backend: Backend) -> Self {
        let (url, files) = match backend {
            Backend::Memory => ("memory:".to_owned(), Vec::new()),
            Backend::Sqlite => {
                let path = temp_path("db");
                let files = ["", "-wal", "-shm"]
                    .iter()
                    .map(|suffix| PathBuf::from(format!("{}{suffix}", path.display())))
                    .collect();
                (format!("sqlite://{}", path.display()), files)
            }
        };
        let mut server = Self::spawn(bin, &url, &test_key())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        server.files = files;
        server
    }

    /// Starts `bin` with `SESSION_STORE=store_url` and `SESSION_KEYS=keys`; `Err` (with
    /// the process's log) when it exits or does not answer `/health` in time.
    pub async fn spawn(bin: &str, store_url: &str, keys: &str) -> Result<Self, String> {
        Self::spawn_with(bin, store_url, keys, &[]).await
    }

    /// [`Server::spawn`] with more environment variables (e.g. `SESSION_STRICT=1`).
    pub async fn spawn_with(
        bin: &str,
        store_url: &str,
        keys: &str,
        env: &[(&str, &str)],
    ) -> Result<Self, String> {
        let port = free_port();
        let log = temp_path("log");
        let stderr = File::create(&log).map_err(|e| format!("cannot create {log:?}: {e}"))?;
        let mut command = Command::new(bin);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SESSION_") {
                command.env_remove(name);
            }
        }
        let child = command
            .env("SESSION_STORE", store_url)
            .env("SESSION_KEYS", keys)
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot run {bin}: {e}"))?;
        let mut server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            files: Vec::new(),
        };
        server.wait_healthy().await?;
        Ok(server)
    }

    async fn wait_healthy(&mut self) -> Result<(), String> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "{} exited with {status}:\n{}",
                    self.base,
                    self.log_text()
                ));
            }
            let health = http.get(format!("{}/health", self.base)).send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "{} did not answer /health within {START_TIMEOUT:?}:\n{}",
                    self.base,
                    self.log_text()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Whether the process is still running (it has not exited or been killed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// What the process has written to stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for file in self.files.iter().chain([&self.log]) {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// A port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

/// A unique path in the temporary directory.
pub fn temp_path(extension: &str) -> PathBuf {
    let unique = &SessionId::generate().expose()[..12];
    std::env::temp_dir().join(format!(
        "example-{}-{unique}.{extension}",
        std::process::id()
    ))
}
