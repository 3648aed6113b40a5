//! Store round trips per HTTP request, read from the servers' own counters.
//!
//! For every server-backed store, on our stack and (where one exists) on the peer's, each
//! [`Scenario`] sends `requests` sequential requests on one connection, after `warmup`
//! unmeasured ones (so prepared statements and scripts are cached), and divides what the
//! server counted in between by the number of requests:
//!
//! - **Redis**: the commands the store's own connections sent, from a `MONITOR` connection.
//!   Commands a Lua script runs inside the server (client `lua`) are not round trips and are
//!   not counted. A sentinel `ECHO` on a separate connection marks where a window ends.
//! - **PostgreSQL**: top-level statements executed in the bench database, from
//!   `pg_stat_statements` on the private cluster `cargo xtask bench` starts (`PG_STATS_URL`).
//! - **MongoDB**: the `serverStatus` opcounters delta, minus the `serverStatus` commands
//!   themselves (calibrated on two back-to-back calls).
//! - **SQLite** has no server: listed as such.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::apps::{self, PATH_LOGIN, PATH_NONE, PATH_READ, PATH_WRITE};
use crate::driver::Client;

/// Any failure of the benchmark.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// `REDIS_URL` when unset.
pub const REDIS_DEFAULT_URL: &str = "redis://127.0.0.1:6379";
/// How long a `MONITOR` sentinel or a server may take to answer.
const WAIT: Duration = Duration::from_secs(15);
/// The peer's fred pool size (the one the tower-sessions-redis-store documentation uses).
const FRED_POOL_SIZE: usize = 6;

/// One kind of request, measured separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// (a) `/none` with a valid session cookie: the handler never touches the session.
    NoAccess,
    /// `/read` on an existing session created moments ago (unmodified within `touch_after`).
    ReadOnly,
    /// `/write` on an existing session: reads a value and writes it back incremented.
    Modifying,
    /// `/login` without a cookie: every request creates a new session.
    Login,
}

impl Scenario {
    /// Every scenario, in report order.
    pub const ALL: [Self; 4] = [Self::NoAccess, Self::ReadOnly, Self::Modifying, Self::Login];

    /// The label in reports.
    pub fn label(self) -> &'static str {
        match self {
            Self::NoAccess => "(a) no session access",
            Self::ReadOnly => "read-only",
            Self::Modifying => "modifying",
            Self::Login => "login (no cookie)",
        }
    }

    /// The path the measured requests get.
    pub fn path(self) -> &'static str {
        match self {
            Self::NoAccess => PATH_NONE,
            Self::ReadOnly => PATH_READ,
            Self::Modifying => PATH_WRITE,
            Self::Login => PATH_LOGIN,
        }
    }

    /// Our target in store round trips per request; `None` where there is none (a login
    /// costs what it costs; it is reported).
    pub fn target(self) -> Option<u64> {
        match self {
            Self::NoAccess => Some(0),
            Self::ReadOnly => Some(1),
            Self::Modifying => Some(2),
            Self::Login => None,
        }
    }
}

/// A backend the benchmark knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// Redis (`REDIS_URL`, default [`REDIS_DEFAULT_URL`]), counted with `MONITOR`.
    Redis,
    /// PostgreSQL (`PG_STATS_URL`), counted with `pg_stat_statements`.
    Postgres,
    /// MongoDB (`MONGO_URI`), counted with `serverStatus` opcounters.
    Mongo,
    /// SQLite: embedded, no server to count on.
    Sqlite,
}

impl Backend {
    /// Every backend, in report order.
    pub const ALL: [Self; 4] = [Self::Redis, Self::Postgres, Self::Mongo, Self::Sqlite];

    /// The name on the command line (`redis`, `postgres`, `mongo`, `sqlite`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::Postgres => "postgres",
            Self::Mongo => "mongo",
            Self::Sqlite => "sqlite",
        }
    }

    /// The backend named `name` (see [`Backend::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// How many requests to send, and how much to print.
#[derive(Debug, Clone)]
pub struct Config {
    /// Measured requests per scenario and stack.
    pub requests: u64,
    /// Unmeasured requests before them, on the same session and path.
    pub warmup: u64,
    /// The backends to measure, in order.
    pub backends: Vec<Backend>,
    /// Print every window's commands or statements to stderr.
    pub verbose: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            requests: 200,
            warmup: 20,
            backends: Backend::ALL.to_vec(),
            verbose: false,
        }
    }
}

/// What the server counted in one measured window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Requests sent in the window.
    pub requests: u64,
    /// Everything counted (commands, statements or operations).
    pub total: u64,
    /// `total / requests`.
    pub per_request: f64,
    /// `total` by command, statement or opcounter bucket.
    pub breakdown: BTreeMap<String, u64>,
}

impl Measurement {
    /// The measurement of `requests` requests whose window counted `breakdown`.
    pub fn new(requests: u64, breakdown: BTreeMap<String, u64>) -> Self {
        let total = breakdown.values().sum();
        let per_request = if requests == 0 {
            0.0
        } else {
            total as f64 / requests as f64
        };
        Self {
            requests,
            total,
            per_request,
            breakdown,
        }
    }

    /// Whether every request stayed within `target` round trips on average.
    pub fn meets(&self, target: u64) -> bool {
        self.total <= target.saturating_mul(self.requests)
    }
}

/// One scenario on one backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// Which scenario.
    pub scenario: Scenario,
    /// Our target per request ([`Scenario::target`]).
    pub target: Option<u64>,
    /// Our stack.
    pub ours: Measurement,
    /// The peer's stack, where the backend has a peer store.
    pub peer: Option<Measurement>,
}

impl ScenarioResult {
    /// Whether ours meets the target; `None` without a target.
    pub fn ours_meets_target(&self) -> Option<bool> {
        self.target.map(|t| self.ours.meets(t))
    }
}

/// Every scenario on one backend, or why it could not be measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendResult {
    /// The backend's name in reports, e.g. "Redis".
    pub backend: String,
    /// What was counted, e.g. "commands received (MONITOR)".
    pub counter: String,
    /// The peer store compared against, if any.
    pub peer: Option<String>,
    /// Why nothing was measured (no server, or no counter the server offers).
    pub unavailable: Option<String>,
    /// One entry per [`Scenario`] (empty when `unavailable`).
    pub scenarios: Vec<ScenarioResult>,
}

/// The whole run: what `--out` holds as JSON and [`markdown`] renders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundTripsResult {
    /// Measured requests per scenario and stack.
    pub requests: u64,
    /// Unmeasured warm-up requests before them.
    pub warmup: u64,
    /// One entry per backend.
    pub backends: Vec<BackendResult>,
}

/// Measures every backend in `config`, printing progress to stderr.
pub async fn run(config: &Config) -> Result<RoundTripsResult, Error> {
    if config.requests == 0 {
        return Err("at least one measured request is needed".into());
    }
    let mut backends = Vec::new();
    for backend in &config.backends {
        eprintln!("round trips: {}", backend.name());
        backends.push(match backend {
            Backend::Redis => redis(config).await?,
            Backend::Postgres => postgres(config).await?,
            Backend::Mongo => mongo(config).await?,
            Backend::Sqlite => sqlite(),
        });
    }
    Ok(RoundTripsResult {
        requests: config.requests,
        warmup: config.warmup,
        backends,
    })
}

// ---------------------------------------------------------------------------------------
// The measurement loop, the same for every backend.

/// A server-side counter: what the server counted between `start` and `stop`.
trait Counter {
    /// Called right before the first measured request.
    async fn start(&mut self) -> Result<(), Error>;
    /// Called after the last measured response; returns the counts by kind.
    async fn stop(&mut self) -> Result<BTreeMap<String, u64>, Error>;
}

/// Sends one request and checks its answer (`expected` body, when given).
async fn request(client: &mut Client, path: &str, expected: Option<&str>) -> Result<(), Error> {
    let (status, body) = client.get(path).await?;
    let body_ok = expected.is_none_or(|e| body.as_ref() == e.as_bytes());
    if !status.is_success() || !body_ok {
        return Err(format!(
            "GET {path}: expected 200{}, got {status} `{}` (does the session cookie round-trip?)",
            expected.map(|e| format!(" `{e}`")).unwrap_or_default(),
            String::from_utf8_lossy(&body)
        )
        .into());
    }
    Ok(())
}

/// Measures `scenario` on the server at `addr` (one fresh connection and session).
async fn measure(
    addr: SocketAddr,
    scenario: Scenario,
    config: &Config,
    counter: &mut impl Counter,
) -> Result<Measurement, Error> {
    let mut client = Client::connect(addr).await?;
    // The session the cookie scenarios use, created moments ago with `n = 1`.
    let mut n = 0_u64;
    if scenario == Scenario::Login {
        client.keep_cookies = false;
    } else {
        request(&mut client, PATH_WRITE, Some("1")).await?;
        n = 1;
    }
    let mut send = async |client: &mut Client| {
        let expected = match scenario {
            Scenario::NoAccess | Scenario::Login => "ok".to_owned(),
            Scenario::ReadOnly => n.to_string(),
            Scenario::Modifying => {
                n += 1;
                n.to_string()
            }
        };
        request(client, scenario.path(), Some(&expected)).await
    };
    for _ in 0..config.warmup {
        send(&mut client).await?;
    }
    counter.start().await?;
    for _ in 0..config.requests {
        send(&mut client).await?;
    }
    let breakdown = counter.stop().await?;
    Ok(Measurement::new(config.requests, breakdown))
}

/// Measures every scenario on the server at `addr`, printing each result.
async fn measure_all(
    backend: &str,
    stack: &str,
    addr: SocketAddr,
    config: &Config,
    counter: &mut impl Counter,
) -> Result<Vec<Measurement>, Error> {
    let mut out = Vec::new();
    for scenario in Scenario::ALL {
        let m = measure(addr, scenario, config, counter).await?;
        eprintln!(
            "round trips: {backend:<10} {stack:<4} {:<22} {:>6.2} per request",
            scenario.label(),
            m.per_request
        );
        if config.verbose {
            for (what, count) in &m.breakdown {
                eprintln!("    {count:>6}  {what}");
            }
        }
        out.push(m);
    }
    Ok(out)
}

fn scenario_results(ours: Vec<Measurement>, peer: Option<Vec<Measurement>>) -> Vec<ScenarioResult> {
    let mut peer = peer.map(Vec::into_iter);
    Scenario::ALL
        .into_iter()
        .zip(ours)
        .map(|(scenario, ours)| ScenarioResult {
            scenario,
            target: scenario.target(),
            ours,
            peer: peer.as_mut().and_then(Iterator::next),
        })
        .collect()
}

fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}_{nanos}", std::process::id())
}

async fn within<T, E: Into<Error>>(
    what: &str,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, Error> {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(result) => result.map_err(|e| format!("{what}: {}", e.into()).into()),
        Err(_) => Err(format!("{what}: no answer within {WAIT:?}").into()),
    }
}

// ---------------------------------------------------------------------------------------
// Redis: MONITOR.

/// One command as `MONITOR` reports it: `+<time> [<db> <client>] "<arg>" …`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MonitorLine {
    db: String,
    /// `ip:port`, `[ipv6]:port`, `unix:<path>`, or `lua` for a command a script ran.
    client: String,
    /// The command name and its arguments, unescaped (bytes that are not UTF-8 lossily).
    args: Vec<String>,
}

impl MonitorLine {
    /// Whether a Lua script ran this command inside the server (no round trip).
    fn is_script(&self) -> bool {
        self.client == "lua"
    }

    /// The command name, upper-cased.
    fn command(&self) -> String {
        self.args
            .first()
            .map(|c| c.to_ascii_uppercase())
            .unwrap_or_default()
    }
}

/// Parses one `MONITOR` line (with or without its leading `+` and trailing CRLF).
fn parse_monitor_line(line: &str) -> Option<MonitorLine> {
    let line = line.trim_end_matches(['\r', '\n']);
    let line = line.strip_prefix('+').unwrap_or(line);
    let (_time, rest) = line.split_once(' ')?;
    let rest = rest.strip_prefix('[')?;
    // The client part ends at the `]` before the first argument's quote; an IPv6 address
    // has brackets of its own but never a quote.
    let end = rest.find("] \"")?;
    let (db, client) = rest[..end].split_once(' ')?;
    let args = parse_quoted_args(&rest[end + 2..])?;
    if args.is_empty() {
        return None;
    }
    Some(MonitorLine {
        db: db.to_owned(),
        client: client.to_owned(),
        args,
    })
}

/// `"a" "b\"c" "\x00"` → `["a", "b\"c", "\0"]`, undoing Redis's `sdscatrepr` escapes.
fn parse_quoted_args(mut s: &str) -> Option<Vec<String>> {
    let mut args = Vec::new();
    loop {
        s = s.trim_start_matches(' ');
        if s.is_empty() {
            return Some(args);
        }
        let mut bytes = s.strip_prefix('"')?.bytes().enumerate();
        let mut arg = Vec::new();
        let consumed = loop {
            let (i, b) = bytes.next()?;
            match b {
                b'"' => break i + 2,
                b'\\' => {
                    let (_, e) = bytes.next()?;
                    arg.push(match e {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'a' => 0x07,
                        b'b' => 0x08,
                        b'x' => {
                            let (_, hi) = bytes.next()?;
                            let (_, lo) = bytes.next()?;
                            let hex = [hi, lo];
                            u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?
                        }
                        other => other,
                    });
                }
                other => arg.push(other),
            }
        };
        args.push(String::from_utf8_lossy(&arg).into_owned());
        s = &s[consumed..];
    }
}

/// `addr` of every `CLIENT LIST` entry whose `name` is in `names`.
fn addrs_named(client_list: &str, names: &HashSet<String>) -> HashSet<String> {
    client_list
        .lines()
        .filter_map(|line| {
            let field = |key: &str| {
                line.split(' ')
                    .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            };
            let name = field("name")?;
            names
                .contains(name)
                .then(|| field("addr").map(str::to_owned))?
        })
        .collect()
}

/// A raw `MONITOR` connection.
struct Monitor {
    stream: BufReader<TcpStream>,
}

impl Monitor {
    async fn connect(info: &redis::ConnectionInfo) -> Result<Self, Error> {
        let (host, port) = match info.addr() {
            redis::ConnectionAddr::Tcp(host, port) => (host.clone(), *port),
            _ => return Err("the round-trips benchmark needs a plain TCP redis:// URL".into()),
        };
        let tcp = within("connecting the MONITOR connection", async {
            TcpStream::connect((host.as_str(), port)).await
        })
        .await?;
        let mut monitor = Self {
            stream: BufReader::new(tcp),
        };
        let settings = info.redis_settings();
        if let Some(password) = settings.password() {
            let mut auth = vec!["AUTH"];
            auth.extend(settings.username());
            auth.push(password);
            monitor.command(&auth).await?;
        }
        monitor.command(&["MONITOR"]).await?;
        Ok(monitor)
    }

    /// Sends `args` as one command and expects `+OK`.
    async fn command(&mut self, args: &[&str]) -> Result<(), Error> {
        let mut out = format!("*{}\r\n", args.len());
        for arg in args {
            let _ = write!(out, "${}\r\n{arg}\r\n", arg.len());
        }
        self.stream.get_mut().write_all(out.as_bytes()).await?;
        let line = within("MONITOR connection", self.line()).await?;
        if line.trim_end() != "+OK" {
            return Err(format!("Redis answered {} with `{}`", args[0], line.trim_end()).into());
        }
        Ok(())
    }

    async fn line(&mut self) -> Result<String, Error> {
        let mut buf = Vec::new();
        if self.stream.read_until(b'\n', &mut buf).await? == 0 {
            return Err("the MONITOR connection closed".into());
        }
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    /// Every command up to the `ECHO <token>` sentinel (not included).
    async fn until(&mut self, token: &str) -> Result<Vec<MonitorLine>, Error> {
        let read = async {
            let mut lines = Vec::new();
            loop {
                let text = self.line().await?;
                let Some(line) = parse_monitor_line(&text) else {
                    return Err::<_, Error>(format!("unexpected MONITOR line `{text}`").into());
                };
                if line.command() == "ECHO" && line.args.get(1).is_some_and(|a| a == token) {
                    return Ok(lines);
                }
                lines.push(line);
            }
        };
        within(&format!("waiting for the MONITOR sentinel {token}"), read).await
    }
}

/// Counts the commands a set of client connections sends, through `MONITOR`.
struct RedisCounter {
    monitor: Monitor,
    control: redis::aio::MultiplexedConnection,
    sentinels: u64,
    suffix: String,
    /// The store's connections (`ip:port` as the server sees them).
    clients: HashSet<String>,
    /// Our store's key prefix: a command carrying it from another connection is an error.
    prefix: Option<String>,
}

impl RedisCounter {
    /// Everything the server ran since the last sync.
    async fn sync(&mut self) -> Result<Vec<MonitorLine>, Error> {
        self.sentinels += 1;
        let token = format!("round-trips-sentinel-{}-{}", self.suffix, self.sentinels);
        let mut echo = redis::cmd("ECHO");
        echo.arg(&token);
        within(
            "sending the MONITOR sentinel",
            echo.query_async::<String>(&mut self.control),
        )
        .await?;
        self.monitor.until(&token).await
    }

    /// The connections that sent a command carrying `prefix` while `addr` served a few
    /// requests (our store: its key prefix is unique to this run).
    async fn discover_by_prefix(&mut self, addr: SocketAddr, prefix: &str) -> Result<(), Error> {
        self.sync().await?;
        let mut client = Client::connect(addr).await?;
        request(&mut client, PATH_WRITE, Some("1")).await?;
        request(&mut client, PATH_READ, Some("1")).await?;
        let lines = self.sync().await?;
        self.clients = lines
            .iter()
            .filter(|l| !l.is_script() && l.args.iter().any(|a| a.contains(prefix)))
            .map(|l| l.client.clone())
            .collect();
        if self.clients.is_empty() {
            return Err(format!("MONITOR saw no command with the store's prefix {prefix}").into());
        }
        self.prefix = Some(prefix.to_owned());
        Ok(())
    }

    /// The connections named `names` (`CLIENT SETNAME`), `expected` of them.
    async fn discover_by_name(
        &mut self,
        names: &HashSet<String>,
        expected: usize,
    ) -> Result<(), Error> {
        let mut list = redis::cmd("CLIENT");
        list.arg("LIST");
        let list = within("CLIENT LIST", list.query_async::<String>(&mut self.control)).await?;
        self.clients = addrs_named(&list, names);
        if self.clients.len() != expected {
            return Err(format!(
                "expected {expected} connections named {names:?} in CLIENT LIST, found {}",
                self.clients.len()
            )
            .into());
        }
        self.prefix = None;
        Ok(())
    }
}

impl Counter for RedisCounter {
    async fn start(&mut self) -> Result<(), Error> {
        self.sync().await.map(drop)
    }

    async fn stop(&mut self) -> Result<BTreeMap<String, u64>, Error> {
        let lines = self.sync().await?;
        let mut counts = BTreeMap::new();
        // A `MULTI` … `EXEC` block is one pipeline, sent and answered at once: one round
        // trip, counted under the commands it ran.
        let mut open: HashMap<&str, Vec<String>> = HashMap::new();
        for line in lines.iter().filter(|l| !l.is_script()) {
            if self.clients.contains(&line.client) {
                let command = line.command();
                let client = line.client.as_str();
                let name = match (command.as_str(), open.contains_key(client)) {
                    ("MULTI", _) => {
                        open.insert(client, Vec::new());
                        continue;
                    }
                    ("EXEC" | "DISCARD", true) => {
                        let inner = open.remove(client).unwrap_or_default();
                        format!("MULTI {} {command}", inner.join(" "))
                    }
                    (_, true) => {
                        open.entry(client).or_default().push(command);
                        continue;
                    }
                    (_, false) => command,
                };
                *counts.entry(name).or_insert(0) += 1;
            } else if let Some(prefix) = &self.prefix
                && line.args.iter().any(|a| a.contains(prefix.as_str()))
            {
                return Err(format!(
                    "a command with the store's prefix came from an unknown connection \
                     {} (db {}): {:?}",
                    line.client, line.db, line.args
                )
                .into());
            }
        }
        Ok(counts)
    }
}

async fn redis(config: &Config) -> Result<BackendResult, Error> {
    use tower_sessions_redis_store::fred::prelude::{ClientLike, Config as FredConfig, Pool};
    use tower_sessions_redis_store::fred::types::config::ConnectionConfig;

    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| REDIS_DEFAULT_URL.to_owned());
    let unreachable = |e: &dyn std::fmt::Display| {
        format!("cannot reach Redis at {url}: start it or set REDIS_URL ({e})")
    };
    let client = redis::Client::open(url.as_str()).map_err(|e| unreachable(&e))?;
    let control = within(
        "connecting to Redis",
        client.get_multiplexed_async_connection(),
    )
    .await
    .map_err(|e| unreachable(&e))?;
    let monitor = Monitor::connect(client.get_connection_info()).await?;
    let suffix = unique_suffix();
    let mut counter = RedisCounter {
        monitor,
        control,
        sentinels: 0,
        suffix: suffix.clone(),
        clients: HashSet::new(),
        prefix: None,
    };

    let prefix = format!("bench:round-trips:{suffix}:");
    let store = within(
        "connecting our RedisStore",
        store_redis::RedisStore::connect(&url),
    )
    .await?
    .with_prefix(prefix.clone());
    let server = apps::serve(apps::ours(store)?).await?;
    counter.discover_by_prefix(server.addr, &prefix).await?;
    let ours = measure_all("Redis", "ours", server.addr, config, &mut counter).await?;
    drop(server);

    // The peer's pool as bench/src/bin/http_load.rs builds it, plus `CLIENT SETNAME` on
    // each connection so they can be told apart from every other client of the server.
    let connection = ConnectionConfig {
        auto_client_setname: true,
        ..ConnectionConfig::default()
    };
    let pool = Pool::new(
        FredConfig::from_url(&url)?,
        None,
        Some(connection),
        None,
        FRED_POOL_SIZE,
    )?;
    // The connection tasks run detached; `quit` below ends them.
    within("connecting the peer's fred pool", pool.init()).await?;
    let names: HashSet<String> = pool.clients().iter().map(|c| c.id().to_owned()).collect();
    counter.discover_by_name(&names, FRED_POOL_SIZE).await?;
    let peer_store = tower_sessions_redis_store::RedisStore::new(pool.clone());
    let server = apps::serve(apps::peer(peer_store)).await?;
    let peer = measure_all("Redis", "peer", server.addr, config, &mut counter).await?;
    drop(server);
    let _ = pool.quit().await;

    Ok(BackendResult {
        backend: "Redis".to_owned(),
        counter: "commands received (`MONITOR`)".to_owned(),
        peer: Some("tower-sessions-redis-store 0.16 (fred)".to_owned()),
        unavailable: None,
        scenarios: scenario_results(ours, Some(peer)),
    })
}

// ---------------------------------------------------------------------------------------
// PostgreSQL: pg_stat_statements.

/// Top-level statements run in the bench database, without the counter's own.
const PG_STATEMENTS: &str = "SELECT query, calls FROM pg_stat_statements \
     WHERE toplevel AND query NOT ILIKE '%pg_stat_statements%' \
     AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())";

/// Counts statements through `pg_stat_statements`.
struct PgCounter {
    stats: sqlx::PgPool,
}

impl Counter for PgCounter {
    async fn start(&mut self) -> Result<(), Error> {
        sqlx::query("SELECT pg_stat_statements_reset()")
            .execute(&self.stats)
            .await?;
        Ok(())
    }

    async fn stop(&mut self) -> Result<BTreeMap<String, u64>, Error> {
        let rows: Vec<(String, i64)> = sqlx::query_as(PG_STATEMENTS).fetch_all(&self.stats).await?;
        let mut counts = BTreeMap::new();
        for (query, calls) in rows {
            let query = query.split_whitespace().collect::<Vec<_>>().join(" ");
            *counts.entry(query).or_insert(0) += u64::try_from(calls).unwrap_or(0);
        }
        Ok(counts)
    }
}

async fn postgres(config: &Config) -> Result<BackendResult, Error> {
    let url = std::env::var("PG_STATS_URL").map_err(|_| {
        "PG_STATS_URL is not set: it must point at a PostgreSQL that preloads \
         pg_stat_statements (the shared server does not); run this benchmark through \
         `cargo xtask bench`, which starts such a cluster and sets it"
    })?;
    let stats = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .map_err(|e| format!("cannot connect to PG_STATS_URL {url}: {e}"))?;
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(&stats)
        .await
        .map_err(|e| format!("CREATE EXTENSION pg_stat_statements at {url}: {e}"))?;
    sqlx::query("SELECT count(*) FROM pg_stat_statements")
        .execute(&stats)
        .await
        .map_err(|e| {
            format!("pg_stat_statements is not usable at {url} (is it preloaded?): {e}")
        })?;
    let mut counter = PgCounter { stats };

    // Both stores' tables live in the PG_STATS_URL database: ours in `sessions`, the
    // peer's in `tower_sessions.session`.
    let store = store_postgres::PostgresStore::connect(&url).await?;
    store.migrate().await?;
    let server = apps::serve(apps::ours(store)?).await?;
    let ours = measure_all("PostgreSQL", "ours", server.addr, config, &mut counter).await?;
    drop(server);

    let pool = sqlx08::PgPool::connect(&url).await?;
    let peer_store = tower_sessions_sqlx_store::PostgresStore::new(pool.clone());
    peer_store.migrate().await?;
    let server = apps::serve(apps::peer(peer_store)).await?;
    let peer = measure_all("PostgreSQL", "peer", server.addr, config, &mut counter).await?;
    drop(server);
    pool.close().await;

    Ok(BackendResult {
        backend: "PostgreSQL".to_owned(),
        counter: "top-level statements (`pg_stat_statements`)".to_owned(),
        peer: Some("tower-sessions-sqlx-store 0.15".to_owned()),
        unavailable: None,
        scenarios: scenario_results(ours, Some(peer)),
    })
}

// ---------------------------------------------------------------------------------------
// MongoDB: serverStatus opcounters.

/// The `serverStatus` opcounters, by bucket.
async fn opcounters(admin: &mongodb::Database) -> Result<BTreeMap<String, u64>, String> {
    use mongodb::bson::{Bson, doc};

    let status = match admin.run_command(doc! { "serverStatus": 1 }).await {
        Ok(status) => status,
        Err(e) => return Err(format!("serverStatus failed: {e}")),
    };
    let Ok(counters) = status.get_document("opcounters") else {
        return Err("serverStatus has no opcounters".to_owned());
    };
    let mut out = BTreeMap::new();
    for bucket in ["query", "insert", "update", "delete", "getmore", "command"] {
        let value = match counters.get(bucket) {
            Some(Bson::Int32(v)) => u64::try_from(*v).ok(),
            Some(Bson::Int64(v)) => u64::try_from(*v).ok(),
            Some(Bson::Double(v)) if *v >= 0.0 => Some(*v as u64),
            _ => None,
        };
        let Some(value) = value else {
            return Err(format!("serverStatus opcounters.{bucket} is missing"));
        };
        out.insert(bucket.to_owned(), value);
    }
    Ok(out)
}

fn delta(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> Result<BTreeMap<String, u64>, Error> {
    after
        .iter()
        .map(|(bucket, &a)| {
            let b = before.get(bucket).copied().unwrap_or(0);
            let d = a
                .checked_sub(b)
                .ok_or_else(|| format!("opcounters.{bucket} went down ({b} → {a})"))?;
            Ok((bucket.clone(), d))
        })
        .collect()
}

/// Counts operations through `serverStatus` opcounters.
struct MongoCounter {
    admin: mongodb::Database,
    /// What one `serverStatus` adds to the counters it reports on the next call.
    own: BTreeMap<String, u64>,
    before: BTreeMap<String, u64>,
}

impl MongoCounter {
    async fn read(&self) -> Result<BTreeMap<String, u64>, Error> {
        Ok(opcounters(&self.admin).await?)
    }
}

impl Counter for MongoCounter {
    async fn start(&mut self) -> Result<(), Error> {
        self.before = self.read().await?;
        Ok(())
    }

    async fn stop(&mut self) -> Result<BTreeMap<String, u64>, Error> {
        let after = self.read().await?;
        let mut counts = delta(&self.before, &after)?;
        for (bucket, own) in &self.own {
            let count = counts.entry(bucket.clone()).or_insert(0);
            *count = count.checked_sub(*own).ok_or_else(|| {
                format!("opcounters.{bucket} moved less than serverStatus itself adds")
            })?;
        }
        counts.retain(|_, n| *n > 0);
        Ok(counts)
    }
}

async fn mongo(config: &Config) -> Result<BackendResult, Error> {
    let uri = std::env::var("MONGO_URI").map_err(|_| {
        "MONGO_URI is not set: run this benchmark through `cargo xtask bench` (or export the \
         variables `cargo xtask services` prints)"
    })?;
    let counter_name = "operations (`serverStatus` opcounters)";
    let mut options = mongodb::options::ClientOptions::parse(&uri).await?;
    // Driver heartbeats (`hello`, every 10 s by default) are background traffic, not
    // caused by requests; keep them out of the measured windows.
    options.heartbeat_freq = Some(Duration::from_secs(3600));
    let client = mongodb::Client::with_options(options)?;
    let admin = client.database("admin");
    let backend = |unavailable: Option<String>, scenarios| BackendResult {
        backend: "MongoDB (SecantusDB)".to_owned(),
        counter: counter_name.to_owned(),
        peer: None,
        unavailable,
        scenarios,
    };
    let first = match tokio::time::timeout(WAIT, opcounters(&admin)).await {
        Err(_) => return Err(format!("MongoDB at {uri}: no answer within {WAIT:?}").into()),
        Ok(Ok(counters)) => counters,
        Ok(Err(why)) => {
            eprintln!("round trips: MongoDB: not available from this server: {why}");
            return Ok(backend(
                Some(format!("not available from this server: {why}")),
                vec![],
            ));
        }
    };
    // Calibrate: what back-to-back serverStatus calls add by themselves (must agree).
    let second = opcounters(&admin).await?;
    let third = opcounters(&admin).await?;
    let own = delta(&first, &second)?;
    if own != delta(&second, &third)? {
        return Err(
            "serverStatus opcounters move between calls without any traffic \
                    (another client on this server?)"
                .into(),
        );
    }
    let mut counter = MongoCounter {
        admin,
        own,
        before: BTreeMap::new(),
    };

    let database = client.database(&format!("round_trips_{}", unique_suffix()));
    let store = store_mongo::MongoStore::new(database.collection("sessions"));
    store.migrate().await?;
    let server = apps::serve(apps::ours(store)?).await?;
    let ours = measure_all("MongoDB", "ours", server.addr, config, &mut counter).await?;
    drop(server);
    database.drop().await?;

    Ok(backend(None, scenario_results(ours, None)))
}

fn sqlite() -> BackendResult {
    BackendResult {
        backend: "SQLite".to_owned(),
        counter: "none".to_owned(),
        peer: Some("tower-sessions-sqlx-store 0.15".to_owned()),
        unavailable: Some("embedded, no server counter".to_owned()),
        scenarios: vec![],
    }
}

// ---------------------------------------------------------------------------------------
// The report.

fn cell(m: Option<&Measurement>) -> String {
    m.map_or_else(|| "—".to_owned(), |m| format!("{:.2}", m.per_request))
}

fn breakdown(m: &Measurement) -> String {
    if m.breakdown.is_empty() {
        return "nothing".to_owned();
    }
    m.breakdown
        .iter()
        .map(|(what, &n)| {
            let what: String = if what.chars().count() > 90 {
                what.chars().take(90).chain("…".chars()).collect()
            } else {
                what.clone()
            };
            format!(
                "`{}` {:.2}",
                what.replace('`', "'"),
                n as f64 / m.requests.max(1) as f64
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The result as a markdown section: a table backend × scenario (ours, peer, our target,
/// whether ours meets it), what each request sent, and how to read the numbers.
pub fn markdown(result: &RoundTripsResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Store round trips per request\n");
    let _ = writeln!(
        out,
        "What one HTTP request costs in store round trips, read from each server's own \
         counters: {} sequential requests per cell on one keep-alive connection, after {} \
         unmeasured warm-up requests (prepared statements and scripts cached), averaged. \
         Read-only and modifying requests continue a session created moments before \
         (so it is unmodified within `touch_after`, 60 s by default); a login arrives \
         without a cookie and creates a session.\n",
        result.requests, result.warmup
    );
    let _ = writeln!(
        out,
        "| Backend: what is counted | Scenario | Ours | Peer | Target (ours) | Met |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|:-:|");
    for backend in &result.backends {
        let name = format!("{}: {}", backend.backend, backend.counter);
        if let Some(why) = &backend.unavailable {
            let _ = writeln!(out, "| {} | all | {why} | | | |", backend.backend);
            continue;
        }
        for (i, s) in backend.scenarios.iter().enumerate() {
            let name = if i == 0 { name.as_str() } else { "" };
            let peer = if backend.peer.is_some() {
                cell(s.peer.as_ref())
            } else {
                "no peer store".to_owned()
            };
            let (target, met) = match (s.target, s.ours_meets_target()) {
                (Some(t), Some(true)) => (t.to_string(), "✓"),
                (Some(t), _) => (t.to_string(), "✗"),
                (None, _) => ("— (reported)".to_owned(), ""),
            };
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {peer} | {target} | {met} |",
                s.scenario.label(),
                cell(Some(&s.ours)),
            );
        }
    }
    let peers: Vec<String> = result
        .backends
        .iter()
        .filter(|b| b.unavailable.is_none())
        .filter_map(|b| Some(format!("{}: {}", b.backend, b.peer.as_ref()?)))
        .collect();
    if !peers.is_empty() {
        let _ = writeln!(out, "\nPeers: {}.", peers.join("; "));
    }

    let _ = writeln!(out, "\n### What each request sent (per request)\n");
    for backend in result.backends.iter().filter(|b| b.unavailable.is_none()) {
        for s in &backend.scenarios {
            let _ = write!(
                out,
                "- {}, {}: ours {}",
                backend.backend,
                s.scenario.label(),
                breakdown(&s.ours)
            );
            if let Some(peer) = &s.peer {
                let _ = write!(out, "; peer {}", breakdown(peer));
            }
            out.push('\n');
        }
    }

    let _ = writeln!(out, "\n### How to read it\n");
    let _ = writeln!(
        out,
        "- **Redis** counts the commands the server received on the store's own connections \
         (ours found by its unique key prefix, the peer's fred pool by `CLIENT SETNAME`), \
         from a `MONITOR` connection; a sentinel `ECHO` on another connection closes each \
         window. Commands a Lua script runs inside the server (`lua` in `MONITOR`) are not \
         round trips and are not counted (`INFO commandstats` would count them). A \
         `MULTI` … `EXEC` block is sent as one pipeline and answered at once: it counts as \
         one round trip, listed with the commands inside it. Every other command is sent on \
         its own (ours: `HGETALL` to load; a write inside `touch_after` that binds no user, \
         compares no version and clears nothing is one `MULTI` `HGET` `HINCRBY` `HSET` \
         `PEXPIRE` `EXEC` block, any other write one `EVALSHA` via redis-rs \
         `Script::invoke_async`; the peer: `GET`, `SET … NX` / `SET … XX`). After a \
         `SCRIPT FLUSH` or a server restart a scripted write of ours costs `EVALSHA` + \
         `SCRIPT LOAD` + `EVALSHA` once."
    );
    let _ = writeln!(
        out,
        "- **PostgreSQL** counts top-level statements executed in the bench database, from \
         `pg_stat_statements` on a private cluster that preloads it (`cargo xtask bench` \
         starts it; utility statements are tracked, so `BEGIN` and `COMMIT` count). A cached \
         prepared statement is one round trip (sqlx sends Bind/Execute/Sync together). Not \
         visible to any server counter: sqlx's pool pings a connection with a bare `Sync` \
         when it hands it out (`test_before_acquire`, on by default; on the request's path) \
         and again when it takes it back (unconditionally, in a background task), for both \
         stacks: two more network round trips per pool checkout — one checkout per \
         statement outside a transaction, one per transaction."
    );
    let _ = writeln!(
        out,
        "- **MongoDB** counts operations from the `serverStatus` opcounters (query, insert, \
         update, delete, getmore, command) of the SecantusDB stand-in, minus what the \
         `serverStatus` calls add themselves; driver heartbeats are background traffic and \
         are kept out of the windows (`heartbeatFrequencyMS` 1 h for the bench's client). \
         There is no tower-sessions peer store for MongoDB in this benchmark."
    );
    let _ = writeln!(
        out,
        "- **SQLite** runs in the process: there is no server and no round trip to count."
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_client_command() {
        let line =
            "+1700000000.123456 [0 127.0.0.1:51234] \"EVALSHA\" \"abc123\" \"1\" \"bench:x:k\"\r\n";
        let parsed = parse_monitor_line(line).expect("parses");
        assert_eq!(parsed.db, "0");
        assert_eq!(parsed.client, "127.0.0.1:51234");
        assert_eq!(parsed.args, ["EVALSHA", "abc123", "1", "bench:x:k"]);
        assert_eq!(parsed.command(), "EVALSHA");
        assert!(!parsed.is_script());
    }

    #[test]
    fn recognises_script_commands() {
        let line = "+1700000000.223456 [3 lua] \"HGET\" \"bench:x:k\" \"e\"";
        let parsed = parse_monitor_line(line).expect("parses");
        assert_eq!(parsed.db, "3");
        assert_eq!(parsed.client, "lua");
        assert!(parsed.is_script());
        assert_eq!(parsed.command(), "HGET");
    }

    #[test]
    fn parses_ipv6_and_unix_clients() {
        let v6 = parse_monitor_line("+1.0 [0 [::1]:6000] \"get\" \"k\"").expect("parses");
        assert_eq!(v6.client, "[::1]:6000");
        assert_eq!(v6.command(), "GET");
        let unix = parse_monitor_line("+1.0 [0 unix:/tmp/redis.sock] \"PING\"").expect("parses");
        assert_eq!(unix.client, "unix:/tmp/redis.sock");
        assert_eq!(unix.args, ["PING"]);
    }

    #[test]
    fn unescapes_arguments() {
        let line = r#"+1.0 [0 10.0.0.1:1] "SET" "a \"b\" ] \"c" "\x00\xff\n\\" """#;
        let parsed = parse_monitor_line(line).expect("parses");
        assert_eq!(parsed.client, "10.0.0.1:1");
        assert_eq!(parsed.args[1], "a \"b\" ] \"c");
        assert_eq!(parsed.args[2], "\0\u{fffd}\n\\");
        assert_eq!(parsed.args[3], "");
        assert_eq!(parsed.args.len(), 4);
    }

    #[test]
    fn rejects_what_is_not_a_command() {
        assert_eq!(parse_monitor_line("+OK"), None);
        assert_eq!(
            parse_monitor_line("+1.0 [0 1.2.3.4:5] \"unterminated"),
            None
        );
        assert_eq!(parse_monitor_line("-ERR nope"), None);
    }

    #[test]
    fn finds_named_clients() {
        let list = "id=3 addr=127.0.0.1:4000 laddr=127.0.0.1:6379 fd=8 name=fred-a db=0\n\
                    id=4 addr=127.0.0.1:4001 laddr=127.0.0.1:6379 fd=9 name= db=0\n\
                    id=5 addr=127.0.0.1:4002 laddr=127.0.0.1:6379 fd=10 name=fred-b db=0\n";
        let names: HashSet<String> = ["fred-a".to_owned(), "fred-b".to_owned()].into();
        let addrs = addrs_named(list, &names);
        let expected: HashSet<String> =
            ["127.0.0.1:4000".to_owned(), "127.0.0.1:4002".to_owned()].into();
        assert_eq!(addrs, expected);
    }

    fn m(requests: u64, counts: &[(&str, u64)]) -> Measurement {
        Measurement::new(
            requests,
            counts.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        )
    }

    fn sample() -> RoundTripsResult {
        let scenarios = vec![
            ScenarioResult {
                scenario: Scenario::NoAccess,
                target: Some(0),
                ours: m(200, &[]),
                peer: Some(m(200, &[])),
            },
            ScenarioResult {
                scenario: Scenario::ReadOnly,
                target: Some(1),
                ours: m(200, &[("HGETALL", 200)]),
                peer: Some(m(200, &[("GET", 200)])),
            },
            ScenarioResult {
                scenario: Scenario::Modifying,
                target: Some(2),
                ours: m(200, &[("HGETALL", 200), ("EVALSHA", 202)]),
                peer: Some(m(200, &[("GET", 200), ("SET", 200)])),
            },
            ScenarioResult {
                scenario: Scenario::Login,
                target: None,
                ours: m(200, &[("EVALSHA", 200)]),
                peer: Some(m(200, &[("SET", 200)])),
            },
        ];
        RoundTripsResult {
            requests: 200,
            warmup: 20,
            backends: vec![
                BackendResult {
                    backend: "Redis".to_owned(),
                    counter: "commands (MONITOR)".to_owned(),
                    peer: Some("tower-sessions-redis-store".to_owned()),
                    unavailable: None,
                    scenarios,
                },
                BackendResult {
                    backend: "MongoDB (SecantusDB)".to_owned(),
                    counter: "opcounters".to_owned(),
                    peer: None,
                    unavailable: None,
                    scenarios: vec![ScenarioResult {
                        scenario: Scenario::ReadOnly,
                        target: Some(1),
                        ours: m(200, &[("query", 200)]),
                        peer: None,
                    }],
                },
                sqlite(),
            ],
        }
    }

    #[test]
    fn markdown_renders_values_and_checks() {
        let text = markdown(&sample());
        assert!(
            text.contains(
                "| Redis: commands (MONITOR) | (a) no session access | 0.00 | 0.00 | 0 | ✓ |"
            ),
            "{text}"
        );
        assert!(
            text.contains("|  | read-only | 1.00 | 1.00 | 1 | ✓ |"),
            "{text}"
        );
        // 402 commands in 200 requests: above 2 per request.
        assert!(
            text.contains("|  | modifying | 2.01 | 2.00 | 2 | ✗ |"),
            "{text}"
        );
        assert!(
            text.contains("|  | login (no cookie) | 1.00 | 1.00 | — (reported) |  |"),
            "{text}"
        );
        assert!(
            text.contains("| read-only | 1.00 | no peer store | 1 | ✓ |"),
            "{text}"
        );
        assert!(
            text.contains("| SQLite | all | embedded, no server counter | | | |"),
            "{text}"
        );
        assert!(
            text.contains("- Redis, modifying: ours `EVALSHA` 1.01, `HGETALL` 1.00; peer `GET` 1.00, `SET` 1.00"),
            "{text}"
        );
        assert!(text.contains("- Redis, (a) no session access: ours nothing; peer nothing"));
    }

    #[test]
    fn measurement_targets() {
        assert!(m(200, &[]).meets(0));
        assert!(m(200, &[("A", 200)]).meets(1));
        assert!(!m(200, &[("A", 201)]).meets(1));
        assert_eq!(m(4, &[("A", 3), ("B", 3)]).per_request, 1.5);
        let json = serde_json::to_string(&sample()).expect("serializes");
        let back: RoundTripsResult = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, sample());
    }
}
