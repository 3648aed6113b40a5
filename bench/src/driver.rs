//! The load driver: `concurrency` keep-alive HTTP/1.1 connections, each sending one request
//! at a time (closed loop), until a shared request budget or a deadline runs out.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper::{body::Bytes, client::conn::http1::SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Any failure of the driver (connect, HTTP, timeout).
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// How hard and how long to drive a server.
#[derive(Debug, Clone, Copy)]
pub struct LoadConfig {
    /// Number of connections, each with one request in flight.
    pub concurrency: usize,
    /// Stop after this many measured requests in total.
    pub max_requests: u64,
    /// Stop after this much time.
    pub max_duration: Duration,
}

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    /// Requests completed (any status).
    pub requests: u64,
    /// Requests that answered a non-2xx status.
    pub errors: u64,
    /// Wall time from the first measured request to the last answer.
    pub elapsed: Duration,
    /// Latency of every request, in microseconds.
    pub latencies_us: Vec<u32>,
}

impl RunResult {
    /// Completed requests per second.
    pub fn rps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.requests as f64 / secs
        } else {
            0.0
        }
    }
}

/// What each connection sends.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// The label in reports, e.g. "(b) read-only".
    pub label: &'static str,
    /// The measured request: `GET path`.
    pub path: &'static str,
    /// An unmeasured `GET seed` each connection sends first to obtain its session.
    pub seed: Option<&'static str>,
    /// Whether connections keep and send back their cookies; off for a login storm, where
    /// every request arrives without a session.
    pub cookies: bool,
}

/// Drives `workload` on `addr` until the budget or the deadline in `config` runs out, on
/// `config.concurrency` fresh connections (each seeded with its own session).
pub async fn run(
    addr: SocketAddr,
    workload: &Workload,
    config: LoadConfig,
) -> Result<RunResult, Error> {
    let clients = connect_seeded(addr, workload, config.concurrency).await?;
    run_clients(clients, workload.path, config)
        .await
        .map(|(result, _)| result)
}

/// `n` connections to `addr`, each seeded by `workload.seed` (when it has one) and keeping
/// its cookies as `workload.cookies` says.
pub async fn connect_seeded(
    addr: SocketAddr,
    workload: &Workload,
    n: usize,
) -> Result<Vec<Client>, Error> {
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        let mut client = Client::connect(addr).await?;
        if let Some(seed) = workload.seed {
            client.seed(seed).await?;
        }
        client.keep_cookies = workload.cookies;
        clients.push(client);
    }
    Ok(clients)
}

/// Sends `GET path` on every one of `clients` (one request in flight each) until the budget
/// or the deadline in `config` runs out (`config.concurrency` is not used: every client
/// drives); hands the clients back for another run on the same sessions.
pub async fn run_clients(
    clients: Vec<Client>,
    path: &'static str,
    config: LoadConfig,
) -> Result<(RunResult, Vec<Client>), Error> {
    let budget = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + config.max_duration;
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| {
            let budget = Arc::clone(&budget);
            tokio::spawn(client.drive(path, budget, config.max_requests, deadline))
        })
        .collect();
    // Hard bound even if the server hangs: the deadline plus a grace period.
    let joined = tokio::time::timeout(
        config.max_duration + Duration::from_secs(10),
        join_all(tasks),
    )
    .await
    .map_err(|_| "load run did not finish within its deadline + 10 s")??;
    let mut result = RunResult {
        elapsed: start.elapsed(),
        ..RunResult::default()
    };
    let mut clients = Vec::with_capacity(joined.len());
    for ((latencies, errors), client) in joined {
        result.requests += latencies.len() as u64;
        result.errors += errors;
        result.latencies_us.extend(latencies);
        clients.push(client);
    }
    Ok((result, clients))
}

/// What one connection measured: per-request latencies (µs) and non-2xx answers.
type Tally = (Vec<u32>, u64);

async fn join_all(
    tasks: Vec<tokio::task::JoinHandle<Result<(Tally, Client), Error>>>,
) -> Result<Vec<(Tally, Client)>, Error> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await??);
    }
    Ok(out)
}

/// Checks that `addr` keeps a session across requests before it is measured: on one
/// connection, `GET write` twice must answer `1` then `2`, and `GET read` then `2`. Catches a
/// cookie that does not round-trip (which would silently turn every request into a new session).
pub async fn check_session(addr: SocketAddr, write: &str, read: &str) -> Result<(), Error> {
    let mut client = Client::connect(addr).await?;
    for (path, expected) in [(write, "1"), (write, "2"), (read, "2")] {
        let (status, body) = client.get(path).await?;
        if !status.is_success() || body.as_ref() != expected.as_bytes() {
            return Err(format!(
                "session check on {addr}{path}: expected 200 `{expected}`, got {status} `{}`",
                String::from_utf8_lossy(&body)
            )
            .into());
        }
    }
    Ok(())
}

/// One keep-alive HTTP/1.1 connection and its cookie jar.
pub struct Client {
    sender: SendRequest<Empty<Bytes>>,
    conn: tokio::task::JoinHandle<()>,
    jar: Jar,
    /// Whether `Set-Cookie` answers update the jar (on by default).
    pub keep_cookies: bool,
}

impl Client {
    /// Opens a connection to `addr` (`TCP_NODELAY`), with an empty cookie jar.
    pub async fn connect(addr: SocketAddr) -> Result<Self, Error> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let conn = tokio::spawn(async move {
            // The connection ends when the client is dropped; errors then are expected.
            let _ = conn.await;
        });
        Ok(Self {
            sender,
            conn,
            jar: Jar::default(),
            keep_cookies: true,
        })
    }

    /// Sends `GET seed`, which must answer 2xx and set a cookie: the session later requests use.
    pub async fn seed(&mut self, seed: &str) -> Result<(), Error> {
        let (status, _) = self.get(seed).await?;
        if !status.is_success() {
            return Err(format!("seeding {seed} answered {status}").into());
        }
        if self.jar.is_empty() {
            return Err(format!("seeding {seed} set no cookie").into());
        }
        Ok(())
    }

    /// Sends requests until the budget or the deadline runs out; returns latencies and the
    /// number of non-2xx answers, and the client.
    async fn drive(
        mut self,
        path: &'static str,
        budget: Arc<AtomicU64>,
        max_requests: u64,
        deadline: Instant,
    ) -> Result<(Tally, Self), Error> {
        let mut latencies = Vec::new();
        let mut errors = 0;
        while Instant::now() < deadline && budget.fetch_add(1, Ordering::Relaxed) < max_requests {
            let sent = Instant::now();
            let (status, _) = self.get(path).await?;
            latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
            if !status.is_success() {
                errors += 1;
            }
        }
        Ok(((latencies, errors), self))
    }

    /// Sends `GET path` with the jar's cookies; returns the status and the body.
    pub async fn get(&mut self, path: &str) -> Result<(StatusCode, Bytes), Error> {
        self.sender.ready().await?;
        let mut request = Request::get(path).header(header::HOST, "127.0.0.1");
        if let Some(cookie) = self.jar.header() {
            request = request.header(header::COOKIE, cookie);
        }
        let response = self
            .sender
            .send_request(request.body(Empty::new())?)
            .await?;
        if self.keep_cookies {
            self.jar.update(response.headers());
        }
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

/// A minimal cookie jar: `name=value` pairs from `Set-Cookie`, sent back as one `Cookie`.
#[derive(Debug, Default)]
pub struct Jar {
    cookies: Vec<(String, String)>,
}

impl Jar {
    /// Whether it holds no cookie.
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// Takes in every `Set-Cookie` of `headers`.
    pub fn update(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(header::SET_COOKIE) {
            if let Ok(text) = value.to_str() {
                self.set_cookie(text);
            }
        }
    }

    /// Takes in one `Set-Cookie` value: stores the pair, or removes it when it is emptied or
    /// expired with `Max-Age=0`.
    pub fn set_cookie(&mut self, text: &str) {
        let pair = text.split(';').next().unwrap_or_default();
        let Some((name, value)) = pair.split_once('=') else {
            return;
        };
        let (name, value) = (name.trim(), value.trim());
        let removed = value.is_empty() || text.to_ascii_lowercase().contains("max-age=0");
        self.cookies.retain(|(n, _)| n != name);
        if !removed {
            self.cookies.push((name.to_owned(), value.to_owned()));
        }
    }

    /// The `Cookie` header to send, if any cookie is held.
    pub fn header(&self) -> Option<String> {
        if self.cookies.is_empty() {
            return None;
        }
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        Some(pairs.join("; "))
    }
}
