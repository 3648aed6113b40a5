//! What `layer_cost` writes: instructions per request of each in-process stack and workload
//! (callgrind, N-difference), and per-crate profiles of the actix and axum stacks.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::callgrind::FunctionCost;

/// Everything `layer_cost` measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerCost {
    /// The two request counts whose difference is divided out.
    pub n: (usize, usize),
    /// Instructions per request by stack and workload.
    pub rows: Vec<CostRow>,
    /// Where the instructions of a request go, for the stacks profiled.
    pub profiles: Vec<Profile>,
}

/// Instructions per request of one stack on one workload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CostRow {
    /// e.g. "axum-ours".
    pub stack: String,
    /// The workload letter.
    pub workload: char,
    /// (instructions at n.1 − instructions at n.0) / (n.1 − n.0).
    pub per_request: f64,
    /// Of those, the instructions of `sha2`'s portable SHA-256 block function. Valgrind's
    /// virtual CPU has no SHA extensions, so under callgrind `sha2` runs its software
    /// rounds (about 3,400 instructions a block); natively, on a CPU with SHA-NI (this
    /// machine's `/proc/cpuinfo` lists `sha_ni`), a block is a few dozen instructions.
    #[serde(default)]
    pub software_sha256: f64,
}

/// The function name (a substring of it) of `sha2`'s portable SHA-256 compression.
pub const SOFTWARE_SHA256: &str = "sha2::sha256::soft";

/// Per-request instructions of one stack by crate and by function (both N-differences).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    /// e.g. "actix-ours".
    pub stack: String,
    /// The workload letter.
    pub workload: char,
    /// By crate, most expensive first; `instructions` per request, `share` of the request.
    pub crates: Vec<FunctionCost>,
    /// The most expensive functions (self cost), per request.
    pub functions: Vec<FunctionCost>,
}

impl LayerCost {
    /// Instructions per request of `stack` on `workload`, if measured.
    pub fn get(&self, stack: &str, workload: char) -> Option<f64> {
        self.row(stack, workload).map(|r| r.per_request)
    }

    /// The same, less the software SHA-256 that only valgrind's CPU model makes it run
    /// (see [`CostRow::software_sha256`]).
    pub fn get_without_software_sha256(&self, stack: &str, workload: char) -> Option<f64> {
        self.row(stack, workload)
            .map(|r| r.per_request - r.software_sha256)
    }

    fn row(&self, stack: &str, workload: char) -> Option<&CostRow> {
        self.rows
            .iter()
            .find(|r| r.stack == stack && r.workload == workload)
    }
}

/// The per-request difference of two profiles (`small` at n.0 requests, `big` at n.1),
/// most expensive first; entries that cost nothing per request are dropped.
pub fn difference(
    small: &[FunctionCost],
    big: &[FunctionCost],
    requests: usize,
) -> Vec<FunctionCost> {
    let mut out: Vec<FunctionCost> = big
        .iter()
        .map(|b| {
            let before = small
                .iter()
                .find(|s| s.name == b.name)
                .map_or(0, |s| s.instructions);
            FunctionCost {
                name: b.name.clone(),
                instructions: b.instructions.saturating_sub(before) / requests.max(1) as u64,
                share: 0.0,
            }
        })
        .filter(|f| f.instructions > 0)
        .collect();
    let total: u64 = out.iter().map(|f| f.instructions).sum();
    for f in &mut out {
        f.share = f.instructions as f64 / total.max(1) as f64;
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.instructions));
    out
}

/// The instructions table: one row per workload, a column per stack, and ours/peer over bare.
pub fn markdown(cost: &LayerCost) -> String {
    let mut out = String::from(
        "| workload | bare axum | ours (adapter-axum + MemoryStore) | tower-sessions (MemoryStore) | ours over bare | tower-sessions over bare | **ours / tower-sessions** | of ours: software SHA-256 | ours without it / tower-sessions | bare actix | ours on actix | ours on actix over bare actix |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let cell = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{v:.0}"));
    let over = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:+.1} % ({:+.0})", (a / b - 1.0) * 100.0, a - b),
        _ => "—".to_owned(),
    };
    for (letter, label) in [
        ('a', "(a) no session access"),
        ('b', "(b) read-only"),
        ('c', "(c) read + write"),
        ('d', "(d) 20 × 200 B, one key changes"),
        ('e', "(e) login storm"),
    ] {
        let bare = cost.get("axum-bare", letter);
        let ours = cost.get("axum-ours", letter);
        let peer = cost.get("axum-peer", letter);
        let actix_bare = cost.get("actix-bare", letter);
        let actix = cost.get("actix-ours", letter);
        if ours.is_none() && peer.is_none() {
            continue;
        }
        let ratio = match (ours, peer) {
            (Some(o), Some(p)) if p > 0.0 => format!("{:.2}", o / p),
            _ => "—".to_owned(),
        };
        let sha = ours.zip(cost.get_without_software_sha256("axum-ours", letter));
        let without = match (sha, peer) {
            (Some((_, o)), Some(p)) if p > 0.0 => format!("{:.2}", o / p),
            _ => "—".to_owned(),
        };
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} | {} | {} | **{ratio}** | {} | {without} | {} | {} | {} |",
            cell(bare),
            cell(ours),
            cell(peer),
            over(ours, bare),
            over(peer, bare),
            cell(sha.map(|(o, w)| o - w)),
            cell(actix_bare),
            cell(actix),
            over(actix, actix_bare),
        );
    }
    out
}

/// A profile's crates as a table: crate, instructions per request, share.
pub fn profile_markdown(profiles: &[&Profile], top: usize) -> String {
    let mut out = String::from("| crate |");
    for p in profiles {
        let _ = write!(out, " {} ({}) Ir/req | share |", p.stack, p.workload);
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|---:|".repeat(profiles.len()));
    out.push('\n');
    let mut names: Vec<&str> = Vec::new();
    for p in profiles {
        for c in p.crates.iter().take(top) {
            if !names.contains(&c.name.as_str()) {
                names.push(&c.name);
            }
        }
    }
    for name in names {
        let _ = write!(out, "| `{name}` |");
        for p in profiles {
            match p.crates.iter().find(|c| c.name == name) {
                Some(c) => {
                    let _ = write!(out, " {} | {:.1} % |", c.instructions, c.share * 100.0);
                }
                None => out.push_str(" 0 | — |"),
            }
        }
        out.push('\n');
    }
    out
}
