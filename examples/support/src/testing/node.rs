//! The Express peer (`interop/express/server.js`) as a child process on a free loopback
//! port, for the interop tests.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::server::free_port;
use super::temp_path;

/// How long Node may take to answer `/health`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// `interop/express` in this repository.
pub fn express_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/express")
}

/// A running Express app; dropping it kills the process.
pub struct NodePeer {
    child: Child,
    base: String,
    log: PathBuf,
}

impl NodePeer {
    /// Starts the Express app with `SESSION_STORE=store_url`, `SESSION_SECRETS=secrets`
    /// and `env`; `Err` (with its log) when it exits or does not answer in time. Its
    /// packages must be installed (`cargo xtask setup` runs `npm ci` in interop/express).
    pub async fn spawn(
        store_url: &str,
        secrets: &str,
        env: &[(&str, &str)],
    ) -> Result<Self, String> {
        let dir = express_dir();
        if !dir.join("node_modules/express-session").is_dir() {
            return Err(format!(
                "{}/node_modules is missing: run `cargo xtask setup` (or `npm ci` there)",
                dir.display()
            ));
        }
        let port = free_port();
        let log = temp_path("node.log");
        let stderr = File::create(&log).map_err(|e| format!("cannot create {log:?}: {e}"))?;
        let stdout = stderr.try_clone().map_err(|e| format!("{log:?}: {e}"))?;
        let mut command = Command::new("node");
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SESSION_") {
                command.env_remove(name);
            }
        }
        let child = command
            .arg("server.js")
            .current_dir(&dir)
            .env("SESSION_STORE", store_url)
            .env("SESSION_SECRETS", secrets)
            .env("PORT", port.to_string())
            .env("EXIT_WITH_STDIN", "1")
            .envs(env.iter().copied())
            // Node exits when this end closes, so a crashed test leaves no server behind.
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot run node (is Node.js installed?): {e}"))?;
        let mut peer = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        peer.wait_healthy().await?;
        Ok(peer)
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
                return Err(format!("node exited with {status}:\n{}", self.log_text()));
            }
            let health = http.get(format!("{}/health", self.base)).send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "node did not answer /health within {START_TIMEOUT:?}:\n{}",
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

    /// What the process has written so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for NodePeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
