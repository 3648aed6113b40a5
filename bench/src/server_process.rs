//! Starting a `bench_server` child process and stopping it again.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, ChildStdin, Command, Stdio},
    time::{Duration, Instant},
};

use crate::stacks::Side;

/// Any failure starting a server process.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A running `bench_server`; closing its stdin on drop stops it (killed if it lingers).
#[derive(Debug)]
pub struct ServerProcess {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its pid, for `/proc/<pid>/stat`.
    pub pid: u32,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl ServerProcess {
    /// Starts `bench_server --backend backend --side side` (the binary next to this one) and
    /// waits for its `listening <addr>` line.
    pub fn start(backend: &str, side: Side, pg_app_name: &str) -> Result<Self, Error> {
        let exe = std::env::current_exe()?;
        let binary = exe.with_file_name("bench_server");
        let mut child = Command::new(&binary)
            .args(["--backend", backend, "--side", side.name()])
            .args(["--pg-app-name", pg_app_name])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                format!(
                    "{}: {e} (build it: cargo build --release --bins)",
                    binary.display()
                )
            })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("bench_server: no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = match line.trim().strip_prefix("listening ") {
            Some(addr) => addr.parse()?,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "bench_server {backend} {}: did not start (said `{}`)",
                    side.name(),
                    line.trim()
                )
                .into());
            }
        };
        let pid = child.id();
        Ok(Self {
            addr,
            pid,
            child,
            stdin,
        })
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
