//! The BENCHMARKS.md sections added for issue 14: CPU per request from the OS, instruction
//! counts from callgrind, where our actix stack's extra instructions go, and the scale curves.

use std::fmt::Write as _;

use crate::{
    cpu::CpuPerRequest,
    layer_cost::{self, LayerCost},
    report::Row,
    scale::{self, ScaleResult},
    targets,
};

fn us(v: f64) -> String {
    format!("{v:.0}")
}

fn split(cpu: Option<CpuPerRequest>) -> [String; 3] {
    match cpu {
        Some(c) => [
            us(c.app_us),
            c.store_us.map_or("—".to_owned(), us),
            format!("**{}**", us(c.total_us())),
        ],
        None => ["—".to_owned(), "—".to_owned(), "—".to_owned()],
    }
}

/// CPU µs per request, ours and the peer side by side: app, store server, total.
pub fn cpu_table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| workload | stack | ours app | ours store | ours total | peer app | peer store | peer total | ours/peer total | bare app |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let [oa, os, ot] = split(row.ours_cpu);
        let [pa, ps, pt] = split(row.peer_cpu);
        let ratio = match (row.ours_cpu, row.peer_cpu) {
            (Some(o), Some(p)) if p.total_us() > 0.0 => {
                format!("{:.2}", o.total_us() / p.total_us())
            }
            _ => "—".to_owned(),
        };
        let bare = row.bare_cpu.map_or("—".to_owned(), |b| us(b.app_us));
        let _ = writeln!(
            out,
            "| {} | {} | {oa} | {os} | {ot} | {pa} | {ps} | {pt} | {ratio} | {bare} |",
            row.workload, row.stack
        );
    }
    out
}

/// The CPU section's text and table.
pub fn cpu_section(rows: &[Row]) -> String {
    format!(
        "## CPU time per request\n\n\
         From the kernel's accounting, not from timers: `utime + stime` of the app's \
         `bench_server` process (`/proc/<pid>/stat`, every thread, clock ticks → µs) and of the \
         store server — redis-server (pid from `INFO server`), or the PostgreSQL backends of \
         the app's pool (pids from `pg_stat_activity` by the pool's `application_name`; the WAL \
         writer and checkpointer are shared with other clients and not counted) — read just \
         before and just after every measured round and divided by the requests it completed. \
         SQLite and memory run inside the app: app only. µs per request; the load driver's \
         own CPU is in neither column. Redis is shared by both sides, and any other client \
         active on it during a round is charged to that round.\n\n{}\n",
        cpu_table(rows)
    )
}

/// The instruction-count section: the table, the targets it answers, the actix profile.
pub fn instructions_section(cost: &LayerCost, rows: &[Row]) -> String {
    let mut out = format!(
        "## Instructions per request of the session layer (callgrind)\n\n\
         `layer_cost` pushes requests through each stack's service in-process (one thread, no \
         network, `MemoryStore` on both sides) under `valgrind --tool=callgrind`, once with \
         {} and once with {} requests after a 200-request warm-up, and divides the difference \
         by {}: start-up cost cancels and the count does not depend on the machine's load. \
         \"Bare\" serves the same paths with a constant body, so ours − bare is the cost of the \
         layer and its store alone.\n\n{}\n",
        cost.n.0,
        cost.n.1,
        cost.n.1 - cost.n.0,
        layer_cost::markdown(cost)
    );
    out.push_str(&actix_section(cost, rows));
    out
}

/// Why our actix stack costs more CPU per request than our axum stack: the HTTP CPU numbers
/// and the per-crate difference of the in-process profiles.
fn actix_section(cost: &LayerCost, rows: &[Row]) -> String {
    let profile = |stack: &str| cost.profiles.iter().find(|p| p.stack == stack);
    let mut out = String::from("### Our actix-web stack against our axum stack\n\n");
    let http = |stack: &str| {
        rows.iter()
            .find(|r| r.workload.starts_with("(c)") && r.stack == stack)
            .and_then(|r| r.ours_cpu)
    };
    if let (Some(actix), Some(axum)) = (
        http("actix-web, Redis (actix-session)"),
        http("axum, Redis"),
    ) {
        let _ = writeln!(
            out,
            "Over HTTP on the same Redis store, (c) costs our actix app {:.0} µs of CPU per \
             request and our axum app {:.0} µs ({:+.0} %); Redis {:.0} vs {:.0} µs.\n",
            actix.app_us,
            axum.app_us,
            (actix.app_us / axum.app_us - 1.0) * 100.0,
            actix.store_us.unwrap_or(0.0),
            axum.store_us.unwrap_or(0.0),
        );
    }
    let (Some(ax_bare), Some(ax_ours), Some(ac_bare), Some(ac_ours)) = (
        profile("axum-bare"),
        profile("axum-ours"),
        profile("actix-bare"),
        profile("actix-ours"),
    ) else {
        out.push_str("The in-process profiles were not measured in this run.\n\n");
        return out;
    };
    let total =
        |p: &layer_cost::Profile| p.crates.iter().map(|c| c.instructions).sum::<u64>() as f64;
    let (axb, axo, acb, aco) = (
        total(ax_bare),
        total(ax_ours),
        total(ac_bare),
        total(ac_ours),
    );
    let _ = writeln!(
        out,
        "In-process, workload ({}) on `MemoryStore`, instructions per request: bare axum {axb:.0}, \
         ours on axum {axo:.0} (layer {:.0}); bare actix-web {acb:.0}, ours on actix-web {aco:.0} \
         (layer {:.0}). The layer costs {:+.0} instructions more on actix-web than on axum; by \
         crate (self cost per request; `session_core`, the stores and the cookie crypto are the \
         same code under both):\n",
        ac_ours.workload,
        axo - axb,
        aco - acb,
        (aco - acb) - (axo - axb),
    );
    out.push_str(&layer_cost::profile_markdown(
        &[ax_bare, ax_ours, ac_bare, ac_ours],
        14,
    ));
    // The crates where the actix layer exceeds the axum layer most.
    let layer = |ours: &layer_cost::Profile, bare: &layer_cost::Profile, name: &str| {
        let of = |p: &layer_cost::Profile| {
            p.crates
                .iter()
                .find(|c| c.name == name)
                .map_or(0.0, |c| c.instructions as f64)
        };
        of(ours) - of(bare)
    };
    let mut names: Vec<&str> = ac_ours
        .crates
        .iter()
        .chain(&ax_ours.crates)
        .map(|c| c.name.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut excess: Vec<(&str, f64)> = names
        .into_iter()
        .map(|n| (n, layer(ac_ours, ac_bare, n) - layer(ax_ours, ax_bare, n)))
        .filter(|(_, d)| d.abs() >= 50.0)
        .collect();
    excess.sort_by(|a, b| b.1.total_cmp(&a.1));
    out.push_str("\nLayer cost on actix-web minus layer cost on axum, by crate (instructions per request, largest first):");
    for (name, d) in excess.iter().take(8) {
        let _ = write!(out, " `{name}` {d:+.0};");
    }
    out.pop();
    out.push_str(".\n\nMost expensive functions of ours on actix-web (self cost per request):\n\n| function | Ir/req | share |\n|---|---:|---:|\n");
    for f in ac_ours.functions.iter().take(12) {
        let _ = writeln!(
            out,
            "| `{}` | {} | {:.1} % |",
            f.name.replace('|', "\\|"),
            f.instructions,
            f.share * 100.0
        );
    }
    out.push('\n');
    out.push_str(ACTIX_FINDING);
    out
}

/// What the profiles above show, in words (the numbers are the tables').
const ACTIX_FINDING: &str = "";

/// The scale-curve section.
pub fn scale_section(result: &ScaleResult, chart: &str) -> String {
    format!(
        "## Scale curves: session size × concurrency\n\n\
         Workload (d) on {}: each request rewrites one key (200 B) of a session of 1, 20, 200 \
         or 2,000 keys, at 1 to 128 connections. {}.\n\n\
         ![req/s and ours/peer by session size and connections]({chart})\n\n{}\n",
        result.stack,
        result.settings,
        scale::markdown(result)
    )
}

/// The checks table of the CPU and instruction targets (same format as the throughput one).
pub fn more_checks(rows: Option<&[Row]>, cost: Option<&LayerCost>) -> Vec<crate::document::Check> {
    let mut checks = Vec::new();
    if let Some(rows) = rows {
        checks.extend(targets::cpu(rows));
    }
    match cost {
        Some(cost) => checks.extend(targets::instructions(cost)),
        None => checks.push(crate::document::Check {
            target: "instructions/request, memory store: ours ≤ tower-sessions".into(),
            measured: "not measured".into(),
            met: false,
        }),
    }
    checks
}
