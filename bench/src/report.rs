//! Summaries of repeated runs and the markdown table the binary prints.

use std::fmt::Write as _;

use crate::driver::RunResult;

/// Several runs of one configuration, reduced to the numbers the table shows.
#[derive(Debug, Clone, Copy, PartialEq)]
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
#[derive(Debug, Clone)]
pub struct Row {
    /// The workload, e.g. "(b) read-only".
    pub workload: String,
    /// The stack and store, e.g. "axum, memory".
    pub backend: String,
    /// Our stack (or the bare baseline).
    pub ours: Summary,
    /// The peer stack, when there is one for this row.
    pub peer: Option<Summary>,
}

/// Renders `rows` as a markdown table with ours/peer throughput ratios.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| workload | backend | ours req/s | ours p50 / p99 µs | peer req/s | peer p50 / p99 µs | ours/peer req/s | errors (ours, peer) |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let (peer, ratio, peer_errors) = match row.peer {
            Some(p) if p.rps > 0.0 => (
                p.cells(),
                format!("{:.2}", row.ours.rps / p.rps),
                p.errors.to_string(),
            ),
            Some(p) => (p.cells(), "—".to_owned(), p.errors.to_string()),
            None => ("— | —".to_owned(), "—".to_owned(), "—".to_owned()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {}, {} |",
            row.workload,
            row.backend,
            row.ours.cells(),
            peer,
            ratio,
            row.ours.errors,
            peer_errors
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
