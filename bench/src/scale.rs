//! Scale curves: workload (d) — one key of a session rewritten per request — with sessions of
//! [`SCALE_KEYS`](crate::apps::SCALE_KEYS) keys at several concurrencies, ours against
//! tower-sessions on Redis. `scale_curves` measures them, [`crate::chart_scale`] plots them.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::{
    cpu::CpuPerRequest,
    report::{self, Summary},
};

/// Everything `scale_curves` measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScaleResult {
    /// The stack (framework, store, peer), in words.
    pub stack: String,
    /// Durations and rounds, in words.
    pub settings: String,
    /// One point per (keys, concurrency).
    pub points: Vec<ScalePoint>,
}

/// One point of the curves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScalePoint {
    /// Keys in each session (one changes per request).
    pub keys: usize,
    /// Connections, one request in flight each, one session each.
    pub concurrency: usize,
    /// Our throughput and latency.
    pub ours: Summary,
    /// The peer's.
    pub peer: Summary,
    /// Our CPU per request (app, Redis).
    pub ours_cpu: Option<CpuPerRequest>,
    /// The peer's.
    pub peer_cpu: Option<CpuPerRequest>,
}

/// The table under the plot: req/s of both sides, the ratio, and CPU per request.
pub fn markdown(result: &ScaleResult) -> String {
    let mut out = String::from(
        "| keys | connections | ours req/s | peer req/s | **ours/peer** | ours p99 µs | peer p99 µs | CPU µs/req ours (app + Redis) | CPU µs/req peer (app + Redis) |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let cpu = |c: Option<CpuPerRequest>| {
        c.map_or("—".to_owned(), |c| {
            format!(
                "{:.0} ({:.0} + {:.0})",
                c.total_us(),
                c.app_us,
                c.store_us.unwrap_or(0.0)
            )
        })
    };
    for p in &result.points {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.0} | **{}** | {} | {} | {} | {} |",
            p.keys,
            p.concurrency,
            p.ours.rps,
            p.peer.rps,
            report::ratio(p.ours.rps, Some(p.peer.rps)),
            p.ours.p99_us,
            p.peer.p99_us,
            cpu(p.ours_cpu),
            cpu(p.peer_cpu),
        );
    }
    out
}
