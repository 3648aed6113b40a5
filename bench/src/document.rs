//! BENCHMARKS.md: every result file of one `cargo xtask bench` run, the targets of issue 6
//! checked against them, and the machine they were measured on.

use std::fmt::Write as _;

use crate::{
    churn::{self, ChurnResult},
    micro::{self, MicroRow},
    report::{self, HttpLoad, Row},
    round_trips::{self, RoundTripsResult},
};

/// Everything one run measured; a part that was not run is `None` and is reported missing.
#[derive(Debug)]
pub struct Results {
    /// `http_load`.
    pub http: Option<HttpLoad>,
    /// The criterion store benchmarks.
    pub micro: Option<Vec<MicroRow>>,
    /// `round_trips`.
    pub round_trips: Option<RoundTripsResult>,
    /// `memory_churn`.
    pub churn: Option<ChurnResult>,
}

/// Target (a): the session layer may cost at most this share of bare-axum throughput (plus
/// a rounding allowance, so exactly 3 % meets it).
const MAX_LAYER_COST: f64 = 0.03 + 1e-9;
/// Target (c): ours/tower-sessions on every shared backend.
const MIN_RATIO_C: f64 = 1.1;
/// Target (d): ours/tower-sessions on Redis and PostgreSQL.
const MIN_RATIO_D: f64 = 1.5;

/// A target and whether the numbers meet it.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// What is required.
    pub target: String,
    /// What was measured, in words and numbers.
    pub measured: String,
    /// Whether the measurement meets the target.
    pub met: bool,
}

fn row<'a>(rows: &'a [Row], workload: &str, stack: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.workload.starts_with(workload) && r.stack == stack)
}

/// The HTTP targets of issue 6 checked against `rows`; a row that was not measured is a miss.
pub fn http_checks(rows: &[Row]) -> Vec<Check> {
    let mut checks = Vec::new();
    let axum_stacks = [
        "axum, memory",
        "axum, SQLite",
        "axum, PostgreSQL",
        "axum, Redis",
    ];
    for stack in axum_stacks {
        let cost = row(rows, "(a)", stack)
            .and_then(|r| Some((r.ours.rps, r.bare?.rps)))
            .filter(|(_, bare)| *bare > 0.0)
            .map(|(ours, bare)| 1.0 - ours / bare);
        checks.push(Check {
            target: format!("(a) {stack}: ≤ 3 % below bare axum"),
            measured: cost.map_or("not measured".into(), |c| {
                let side = if c > 0.0 { "below" } else { "above" };
                format!("{:.1} % {side} bare axum", c.abs() * 100.0)
            }),
            met: cost.is_some_and(|c| c <= MAX_LAYER_COST),
        });
    }
    // The (a) path is the same code whatever the store, so the stacks' spread is noise; their
    // median is the steadier reading.
    let mut ours_over_bare: Vec<f64> = axum_stacks
        .iter()
        .filter_map(|stack| row(rows, "(a)", stack))
        .filter_map(|r| Some(r.ours.rps / r.bare?.rps).filter(|x| x.is_finite()))
        .collect();
    ours_over_bare.sort_by(f64::total_cmp);
    let pooled = (!ours_over_bare.is_empty()).then(|| {
        let n = ours_over_bare.len();
        1.0 - (ours_over_bare[(n - 1) / 2] + ours_over_bare[n / 2]) / 2.0
    });
    checks.push(Check {
        target: format!(
            "(a) median over the {} axum stacks: ≤ 3 % below bare axum",
            ours_over_bare.len()
        ),
        measured: pooled.map_or("not measured".into(), |c| {
            let side = if c > 0.0 { "below" } else { "above" };
            format!("{:.1} % {side} bare axum", c.abs() * 100.0)
        }),
        met: pooled.is_some_and(|c| c <= MAX_LAYER_COST),
    });
    let ratio_check = |workload: &str, stack: &str, min: f64| {
        let ratio = row(rows, workload, stack)
            .and_then(|r| Some((r.ours.rps, r.peer?.rps)))
            .filter(|(_, peer)| *peer > 0.0)
            .map(|(ours, peer)| ours / peer);
        Check {
            target: format!("{workload} {stack}: ≥ {min:.1}× tower-sessions"),
            measured: ratio.map_or("not measured".into(), |r| format!("{r:.2}×")),
            met: ratio.is_some_and(|r| r >= min),
        }
    };
    for stack in axum_stacks {
        checks.push(ratio_check("(c)", stack, MIN_RATIO_C));
    }
    for stack in ["axum, Redis", "axum, PostgreSQL"] {
        checks.push(ratio_check("(d)", stack, MIN_RATIO_D));
    }
    checks
}

/// The workloads × stacks matrix of ours/peer ratios.
fn ratio_matrix(rows: &[Row]) -> String {
    let mut stacks: Vec<&str> = Vec::new();
    let mut workloads: Vec<&str> = Vec::new();
    for r in rows {
        if !stacks.contains(&r.stack.as_str()) {
            stacks.push(&r.stack);
        }
        if !workloads.contains(&r.workload.as_str()) {
            workloads.push(&r.workload);
        }
    }
    let mut out = format!("| workload | {} |\n|---|", stacks.join(" | "));
    out.push_str(&"---:|".repeat(stacks.len()));
    out.push('\n');
    for workload in workloads {
        let _ = write!(out, "| {workload} |");
        for stack in &stacks {
            let cell = rows
                .iter()
                .find(|r| r.workload == workload && r.stack == *stack)
                .map_or("—".into(), |r| {
                    report::ratio(r.ours.rps, r.peer.map(|p| p.rps))
                });
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out
}

/// Why a missed target is missed, for each kind of miss present in `checks`: the mechanisms
/// found by measuring (profiles, server counters), not excuses fitted to one run's numbers.
fn misses_explained(checks: &[Check]) -> String {
    let missed = |prefix: &str, stack: &str| {
        checks
            .iter()
            .any(|c| !c.met && c.target.starts_with(prefix) && c.target.contains(stack))
    };
    let mut out = String::new();
    let mut why = |text: &str| {
        out.push_str("- ");
        out.push_str(text);
        out.push('\n');
    };
    if missed("(a)", "") {
        why(
            "(a): the path is the same code on every stack (no store call, no cookie \
             verification until the session is touched), so the spread between the stacks' (a) \
             rows is this machine's noise floor: driver, servers and databases share 2 cores, \
             and a few-percent bound cannot be resolved here.",
        );
    }
    if missed("(c)", "SQLite") || missed("(d)", "SQLite") {
        why(
            "SQLite writes: ours maintains an `expires_at` index (for `delete_expired`) that the \
             peer's table does not have, the rolling deadline moves that index entry on every \
             write, and `json_set` re-parses the stored document; the peer upserts one blob \
             into a table with no secondary index.",
        );
    }
    if missed("(c)", "PostgreSQL") || missed("(d)", "PostgreSQL") {
        why(
            "PostgreSQL writes: MVCC writes a whole new row version (and re-TOASTs the data) \
             whether one key or all of them changed, so sending one key instead of the whole \
             session saves only wire bytes, which loopback does not charge; the jsonb merge and \
             the `expires_at` index entry are extra work the peer's bytea upsert does not do.",
        );
    }
    if missed("(c)", "Redis") || missed("(d)", "Redis") {
        why(
            "Redis writes: the conditional write (never resurrect a deleted session, bump the \
             version atomically) is a Lua script, which costs the server several times a plain \
             `SET` per call (`INFO commandstats`); the bytes saved by sending one key do not \
             matter on loopback.",
        );
    }
    if missed("(c)", "memory") {
        why(
            "memory: both stores are in-process maps; the difference is a few hundred \
             nanoseconds per request, inside this machine's run-to-run noise.",
        );
    }
    if out.is_empty() {
        out
    } else {
        format!("Where a target is missed, and why:\n\n{out}\n")
    }
}

fn checks_table(checks: &[Check]) -> String {
    let mut out = String::from("| target | measured | met |\n|---|---|:-:|\n");
    for c in checks {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            c.target,
            c.measured,
            if c.met { "✓" } else { "✗ **missed**" }
        );
    }
    out
}

/// The whole BENCHMARKS.md. `machine` describes where it ran; `chart` is the chart's path
/// relative to the document.
pub fn render(results: &Results, machine: &str, chart: &str) -> String {
    let mut doc = String::from(
        "# Benchmarks\n\n\
         Generated by `cargo xtask bench` (do not edit by hand: the next run rewrites this file \
         and the chart). Every comparison ran ours and the peer in the same process run, \
         alternating, on the same machine and the same servers; numbers are ratios of \
         medians, never thresholds asserted in tests.\n\n",
    );
    let _ = write!(
        doc,
        "## How to run\n\n\
         ```sh\n\
         cargo xtask bench            # everything below; starts the services it needs\n\
         cargo xtask services         # or: keep the services up and run one part by hand,\n\
         export CARGO_TARGET_DIR=$PWD/target   # from the repository root, in its target dir\n\
         cargo run --release --manifest-path bench/Cargo.toml --bin http_load -- --only redis --secs 3 --rounds 3\n\
         cargo bench --manifest-path bench/Cargo.toml --bench stores -- redis\n\
         cargo run --release --manifest-path bench/Cargo.toml --bin round_trips\n\
         cargo run --release --manifest-path bench/Cargo.toml --bin memory_churn\n\
         cargo run --release --manifest-path bench/Cargo.toml --bin report   # rewrites this file from target/bench-results\n\
         ```\n\n## Machine\n\n{machine}\n"
    );

    doc.push_str("## HTTP throughput, ours / peer\n\n");
    match &results.http {
        Some(http) => {
            let _ = write!(
                doc,
                "Ratio of median requests/s, ours over the peer (> 1: ours faster). Peers: \
                 tower-sessions 0.14 on axum 0.8 (memory: tower-sessions-moka-store, SQLite and \
                 PostgreSQL: tower-sessions-sqlx-store, Redis: tower-sessions-redis-store) and \
                 actix-session 0.11 (RedisSessionStore) on actix-web 4. {}.\n\n{}\n\
                 ![ours/peer throughput per workload and stack]({chart})\n\n\
                 ### Targets\n\n{}\n{}\
                 ### All numbers\n\n{}\n",
                http.settings,
                ratio_matrix(&http.rows),
                checks_table(&http_checks(&http.rows)),
                misses_explained(&http_checks(&http.rows)),
                report::markdown(&http.rows)
            );
        }
        None => doc.push_str("Not measured in this run.\n\n"),
    }

    // The round-trip and churn sections bring their own headings.
    match &results.round_trips {
        Some(r) => doc.push_str(&round_trips::markdown(r)),
        None => doc.push_str("## Store round trips per request\n\nNot measured in this run.\n"),
    }
    doc.push_str("\n## Store operations against the raw driver\n\n");
    match &results.micro {
        Some(rows) if !rows.is_empty() => {
            doc.push_str(
                "criterion, mean time per operation on one connection/pool, one operation at a \
                 time; `raw driver` is the same driver doing the equivalent single operation \
                 on a table/hash/collection of the same shape — the backend's own limit.\n\n",
            );
            doc.push_str(&micro::markdown(rows));
        }
        _ => doc.push_str("Not measured in this run.\n"),
    }
    doc.push('\n');
    match &results.churn {
        Some(c) => doc.push_str(&churn::markdown(c)),
        None => doc.push_str("## Memory store under churn\n\nNot measured in this run.\n"),
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Summary;

    fn summary(rps: f64) -> Summary {
        Summary::with_rps(rps)
    }

    fn row(workload: &str, stack: &str, ours: f64, peer: f64, bare: Option<f64>) -> Row {
        Row::rates(
            workload,
            stack,
            summary(ours),
            Some(summary(peer)),
            bare.map(summary),
        )
    }

    #[test]
    fn targets_are_computed_from_the_rows() {
        let rows = [
            row("(a) none", "axum, memory", 98.0, 90.0, Some(100.0)),
            row("(a) none", "axum, Redis", 96.0, 90.0, Some(100.0)),
            row("(c) write", "axum, Redis", 110.0, 100.0, None),
            row("(c) write", "axum, memory", 109.0, 100.0, None),
            row("(d) big", "axum, Redis", 150.0, 100.0, None),
            row("(d) big", "axum, PostgreSQL", 149.0, 100.0, None),
        ];
        let checks = http_checks(&rows);
        let met = |target: &str| {
            checks
                .iter()
                .find(|c| c.target.starts_with(target))
                .map(|c| c.met)
        };
        assert_eq!(met("(a) axum, memory"), Some(true));
        assert_eq!(met("(a) axum, Redis"), Some(false));
        assert_eq!(met("(a) axum, SQLite"), Some(false), "unmeasured is a miss");
        // Ratios 0.98 and 0.96: median 0.97, 3.0 % below.
        assert_eq!(met("(a) median over the 2 axum stacks"), Some(true));
        assert_eq!(met("(c) axum, Redis"), Some(true));
        assert_eq!(met("(c) axum, memory"), Some(false));
        assert_eq!(met("(d) axum, Redis"), Some(true));
        assert_eq!(met("(d) axum, PostgreSQL"), Some(false));
    }

    #[test]
    fn only_missed_targets_are_explained() {
        let check = |target: &str, met| Check {
            target: target.into(),
            measured: String::new(),
            met,
        };
        let text = misses_explained(&[
            check("(c) axum, SQLite: ≥ 1.1× tower-sessions", false),
            check("(d) axum, Redis: ≥ 1.5× tower-sessions", true),
        ]);
        assert!(text.contains("SQLite writes"), "{text}");
        assert!(!text.contains("Redis writes"), "{text}");
        assert_eq!(misses_explained(&[check("(a) x", true)]), "");
    }

    #[test]
    fn matrix_has_a_cell_per_workload_and_stack() {
        let rows = [
            row("(a) none", "axum, memory", 100.0, 50.0, None),
            row("(a) none", "axum, Redis", 100.0, 200.0, None),
            row("(b) read", "axum, memory", 30.0, 20.0, None),
        ];
        let matrix = ratio_matrix(&rows);
        assert!(matrix.contains("| (a) none | 2.00 | 0.50 |"), "{matrix}");
        assert!(matrix.contains("| (b) read | 1.50 | — |"), "{matrix}");
    }
}
