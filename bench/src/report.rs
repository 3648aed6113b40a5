//! Summaries of repeated HTTP runs, their table, and the JSON files every bench tool writes
//! for the report.

use std::{fmt::Write as _, path::Path};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    cpu::{CpuPerRequest, ThreadCpu},
    driver::RunResult,
};

/// Everything `http_load` measured: how, and the rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HttpLoad {
    /// Connections, durations and rounds, in words.
    pub settings: String,
    /// One row per (workload, stack).
    pub rows: Vec<Row>,
}

/// Writes `value` as pretty JSON to `path`, creating its directory.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads a JSON file written by [`write_json`].
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Several runs of one configuration, reduced to the numbers the table shows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Median of the runs' requests per second.
    pub rps: f64,
    /// 50th percentile latency over all runs' requests, in microseconds.
    pub p50_us: u32,
    /// 99th percentile latency over all runs' requests, in microseconds.
    pub p99_us: u32,
    /// Non-2xx answers over all runs.
    pub errors: u64,
}

impl Summary {
    /// Reduces `runs` (median throughput, pooled latency percentiles).
    pub fn of(runs: &[RunResult]) -> Self {
        let mut rates: Vec<f64> = runs.iter().map(RunResult::rps).collect();
        rates.sort_by(f64::total_cmp);
        let mut latencies: Vec<u32> = runs
            .iter()
            .flat_map(|r| r.latencies_us.iter().copied())
            .collect();
        latencies.sort_unstable();
        Self {
            rps: median(&rates),
            p50_us: percentile(&latencies, 0.50),
            p99_us: percentile(&latencies, 0.99),
            errors: runs.iter().map(|r| r.errors).sum(),
        }
    }

    fn cells(&self) -> String {
        format!("{:.0} | {} / {}", self.rps, self.p50_us, self.p99_us)
    }
}

#[cfg(test)]
impl Summary {
    /// A summary holding only a throughput, for other modules' tests.
    pub(crate) fn with_rps(rps: f64) -> Self {
        Self {
            rps,
            p50_us: 1,
            p99_us: 2,
            errors: 0,
        }
    }
}

fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The `q` quantile (0..=1) of `sorted` by nearest rank; 0 when empty.
pub fn percentile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One line of the table: a workload on a backend, ours against the peer (if any).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// The workload, e.g. "(b) read-only".
    pub workload: String,
    /// The framework and store, e.g. "axum, memory".
    pub stack: String,
    /// Our stack (or the bare baseline).
    pub ours: Summary,
    /// The peer stack, when there is one for this row.
    pub peer: Option<Summary>,
    /// The framework without a session layer, measured in the same rounds (workload (a)).
    pub bare: Option<Summary>,
    /// CPU time per request of our side (app process, store server), over its measured rounds.
    #[serde(default)]
    pub ours_cpu: Option<CpuPerRequest>,
    /// The same for the peer.
    #[serde(default)]
    pub peer_cpu: Option<CpuPerRequest>,
    /// The same for bare axum (app only).
    #[serde(default)]
    pub bare_cpu: Option<CpuPerRequest>,
    /// Our app's CPU per request by thread name.
    #[serde(default)]
    pub ours_threads: Vec<ThreadCpu>,
    /// The peer app's.
    #[serde(default)]
    pub peer_threads: Vec<ThreadCpu>,
}

impl Row {
    /// A row with throughput only (no CPU accounting), for tests and old result files.
    pub fn rates(
        workload: &str,
        stack: &str,
        ours: Summary,
        peer: Option<Summary>,
        bare: Option<Summary>,
    ) -> Self {
        Self {
            workload: workload.to_owned(),
            stack: stack.to_owned(),
            ours,
            peer,
            bare,
            ours_cpu: None,
            peer_cpu: None,
            bare_cpu: None,
            ours_threads: Vec::new(),
            peer_threads: Vec::new(),
        }
    }
}

/// `a / b` with two decimals, or "—" when there is no `b`.
pub fn ratio(a: f64, b: Option<f64>) -> String {
    match b {
        Some(b) if b > 0.0 => format!("{:.2}", a / b),
        _ => "—".to_owned(),
    }
}

/// Renders `rows` as a markdown table with ours/peer (and ours/bare) throughput ratios.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| workload | stack | ours req/s | ours p50 / p99 µs | peer req/s | peer p50 / p99 µs | **ours/peer** | bare req/s | ours/bare | errors (ours, peer) |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let dash = || "— | —".to_owned();
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | **{}** | {} | {} | {}, {} |",
            row.workload,
            row.stack,
            row.ours.cells(),
            row.peer.map_or_else(dash, |p| p.cells()),
            ratio(row.ours.rps, row.peer.map(|p| p.rps)),
            row.bare
                .map_or_else(|| "—".to_owned(), |b| format!("{:.0}", b.rps)),
            ratio(row.ours.rps, row.bare.map(|b| b.rps)),
            row.ours.errors,
            row.peer
                .map_or_else(|| "—".to_owned(), |p| p.errors.to_string()),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.50), 50);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&v, 0.0), 1);
        assert_eq!(percentile(&[], 0.5), 0);
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&[1.0, 2.0, 9.0]), 2.0);
        assert_eq!(median(&[1.0, 3.0]), 2.0);
    }
}
