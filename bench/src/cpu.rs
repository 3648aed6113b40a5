//! CPU time from the operating system's own accounting: `utime + stime` of a process (all its
//! threads) from `/proc/<pid>/stat`, in clock ticks converted to microseconds, and the pids of
//! the store servers serving the bench — redis-server (`INFO server` → `process_id`) and the
//! PostgreSQL backends of the bench's pools (`pg_stat_activity` by `application_name`).

use std::{collections::HashMap, sync::OnceLock};

use serde::{Deserialize, Serialize};

/// Any failure reading the accounting (a process gone, a server unreachable).
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux this runs on when `getconf`
/// is missing).
fn ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|t| *t > 0)
            .unwrap_or(100)
    })
}

/// `utime + stime` of `pid` (every thread), in microseconds.
pub fn process_cpu_us(pid: u32) -> Result<u64, Error> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    parse_stat_ticks(&text)
        .map(|ticks| ticks * 1_000_000 / ticks_per_second())
        .ok_or_else(|| format!("{path}: no utime/stime in `{text}`").into())
}

/// `utime + stime` in clock ticks from the text of `/proc/<pid>/stat`. The command name (field
/// 2) may hold spaces and parentheses, so fields are counted after its last `)`.
fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state (field 3) is index 0, utime (14) index 11, stime (15) index 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU time (µs) of every thread of `pid`, summed by thread name (`/proc/<pid>/task/*/stat`;
/// the kernel truncates names to 15 bytes, so e.g. actix's workers are `actix-rt|system`).
pub fn threads_cpu_us(pid: u32) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let Ok(text) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let name = match (text.find('('), text.rfind(')')) {
            (Some(open), Some(close)) if open < close => text[open + 1..close].to_owned(),
            _ => continue,
        };
        if let Some(ticks) = parse_stat_ticks(&text) {
            *out.entry(name).or_insert(0) += ticks * 1_000_000 / ticks_per_second();
        }
    }
    out
}

/// The CPU time of a set of processes at one instant, by pid (µs).
#[derive(Debug, Clone, Default)]
pub struct Snapshot(HashMap<u32, u64>);

impl Snapshot {
    /// Reads every pid in `pids`; a pid that vanished is left out.
    pub fn of(pids: &[u32]) -> Self {
        Self(
            pids.iter()
                .filter_map(|&pid| Some((pid, process_cpu_us(pid).ok()?)))
                .collect(),
        )
    }

    /// CPU used between `self` (earlier) and `later`: the sum over the pids in `later` of
    /// their growth (a pid that appeared in between counts from zero).
    pub fn used_until(&self, later: &Self) -> u64 {
        later
            .0
            .iter()
            .map(|(pid, after)| after.saturating_sub(self.0.get(pid).copied().unwrap_or(0)))
            .sum()
    }
}

/// Which store server processes to account for a stack.
#[derive(Debug, Clone)]
pub enum StoreServer {
    /// No server process: the store lives in the app (memory, SQLite).
    None,
    /// redis-server at this URL; its pid comes from `INFO server`.
    Redis(String),
    /// The PostgreSQL backends whose `application_name` is this, on the server at `url`.
    Postgres {
        /// Where to ask `pg_stat_activity`.
        url: String,
        /// The `application_name` the app's pool connects with.
        application_name: String,
    },
}

impl StoreServer {
    /// The pids serving the app right now (empty for [`StoreServer::None`]).
    pub async fn pids(&self) -> Result<Vec<u32>, Error> {
        match self {
            Self::None => Ok(Vec::new()),
            Self::Redis(url) => Ok(vec![redis_pid(url).await?]),
            Self::Postgres {
                url,
                application_name,
            } => postgres_pids(url, application_name).await,
        }
    }

    /// Whether there is a server process to account.
    pub fn is_some(&self) -> bool {
        !matches!(self, Self::None)
    }
}

/// redis-server's pid, from `INFO server`; it must be visible in this machine's `/proc`.
pub async fn redis_pid(url: &str) -> Result<u32, Error> {
    let client = redis::Client::open(url)?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut connection)
        .await?;
    let pid: u32 = info
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .ok_or("INFO server has no process_id")?
        .trim()
        .parse()?;
    process_cpu_us(pid).map_err(|e| format!("redis-server pid {pid} is not readable here: {e}"))?;
    Ok(pid)
}

/// The pids of the PostgreSQL backends connected with `application_name`.
pub async fn postgres_pids(url: &str, application_name: &str) -> Result<Vec<u32>, Error> {
    use sqlx::Connection as _;
    let mut connection = sqlx::PgConnection::connect(url).await?;
    let pids: Vec<i32> =
        sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE application_name = $1")
            .bind(application_name)
            .fetch_all(&mut connection)
            .await?;
    connection.close().await?;
    Ok(pids
        .into_iter()
        .filter_map(|p| u32::try_from(p).ok())
        .collect())
}

/// The app's CPU time per request on the threads of one name, µs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadCpu {
    /// The thread name (15 bytes at most).
    pub name: String,
    /// CPU µs per request on threads of that name.
    pub us: f64,
}

/// CPU time per request of one side of a comparison, µs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CpuPerRequest {
    /// The app (server) process.
    pub app_us: f64,
    /// The store server process(es); `None` when the store has no server.
    pub store_us: Option<f64>,
}

impl CpuPerRequest {
    /// App plus store.
    pub fn total_us(&self) -> f64 {
        self.app_us + self.store_us.unwrap_or(0.0)
    }
}

/// CPU used over measured rounds, summed, with the requests they completed.
#[derive(Debug, Clone, Default)]
pub struct CpuTally {
    /// App CPU by thread name, µs.
    pub threads: HashMap<String, u64>,
    /// App CPU, µs.
    pub app_us: u64,
    /// Store server CPU, µs.
    pub store_us: u64,
    /// Requests completed.
    pub requests: u64,
}

impl CpuTally {
    /// Per request; `store` says whether there was a store server to account.
    pub fn per_request(&self, store: bool) -> Option<CpuPerRequest> {
        (self.requests > 0).then(|| {
            let n = self.requests as f64;
            CpuPerRequest {
                app_us: self.app_us as f64 / n,
                store_us: store.then(|| self.store_us as f64 / n),
            }
        })
    }

    /// The app's CPU per request by thread name, most first.
    pub fn threads_per_request(&self) -> Vec<ThreadCpu> {
        let n = self.requests.max(1) as f64;
        let mut out: Vec<ThreadCpu> = self
            .threads
            .iter()
            .map(|(name, us)| ThreadCpu {
                name: name.clone(),
                us: *us as f64 / n,
            })
            .filter(|t| t.us > 0.0)
            .collect();
        out.sort_by(|a, b| b.us.total_cmp(&a.us));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_read_after_the_last_parenthesis() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194624 541 0 0 0 141 110 0 0 20 0 5 0";
        assert_eq!(parse_stat_ticks(stat), Some(251));
        assert_eq!(parse_stat_ticks("42 (x) S 1"), None);
    }

    #[test]
    fn this_process_has_cpu_time() {
        let pid = std::process::id();
        assert!(process_cpu_us(pid).is_ok());
        let before = Snapshot::of(&[pid]);
        let after = Snapshot::of(&[pid, u32::MAX]);
        assert!(before.used_until(&after) < 60_000_000);
    }
}
