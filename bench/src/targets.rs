//! The targets of issue 14 (item 3), checked against one run's numbers: every cell computed,
//! each with its margin, never a verdict written by hand.

use crate::{document::Check, layer_cost::LayerCost, report::Row};

/// Every (b)–(e) cell: ours/peer at least this.
pub const MIN_CELL: f64 = 1.0;
/// The median (b)–(e) cell: at least this.
pub const MIN_MEDIAN: f64 = 1.2;
/// (d) on PostgreSQL and Redis: at least this.
pub const MIN_BIG: f64 = 1.5;
/// The stacks whose (d) cell has the [`MIN_BIG`] target.
const BIG_STACKS: [&str; 2] = ["axum, PostgreSQL", "axum, Redis"];
/// The write workloads, whose CPU per request (app + store) must not exceed the peer's.
const WRITES: [&str; 3] = ["(c)", "(d)", "(e)"];
/// The layer-cost question of the in-process counts: (a) at most this much above bare axum.
pub const MAX_LAYER_OVER_BARE: f64 = 0.03;

/// The peer's name for a stack label.
pub fn peer_name(stack: &str) -> &str {
    stack
        .split_once(" (")
        .map_or("tower-sessions", |(_, peer)| peer.trim_end_matches(')'))
}

fn letter(workload: &str) -> Option<char> {
    workload.chars().nth(1)
}

fn ratio_of(row: &Row) -> Option<f64> {
    let peer = row.peer?.rps;
    (peer > 0.0).then(|| row.ours.rps / peer)
}

/// `r` as "1.23× (+23 %)" against `target`: the margin is how far above (or below) it is.
fn margin(value: f64, target: f64) -> String {
    let pct = (value / target - 1.0) * 100.0;
    if pct >= 0.0 {
        format!("{value:.2}× (+{pct:.0} % over the target)")
    } else {
        format!("{value:.2}× ({:.0} % short)", -pct)
    }
}

/// The throughput targets: every (b)–(e) cell, the median cell, (d) on PostgreSQL and Redis.
pub fn throughput(rows: &[Row]) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut cells = Vec::new();
    for row in rows
        .iter()
        .filter(|r| letter(&r.workload).is_some_and(|l| ('b'..='e').contains(&l)))
    {
        let ratio = ratio_of(row);
        if let Some(r) = ratio {
            cells.push(r);
        }
        checks.push(Check {
            target: format!(
                "{} {}: ≥ {MIN_CELL:.1}× {}",
                &row.workload[..3],
                row.stack,
                peer_name(&row.stack)
            ),
            measured: ratio.map_or("not measured".into(), |r| margin(r, MIN_CELL)),
            met: ratio.is_some_and(|r| r >= MIN_CELL),
        });
    }
    cells.sort_by(f64::total_cmp);
    let median = (!cells.is_empty()).then(|| {
        let n = cells.len();
        (cells[(n - 1) / 2] + cells[n / 2]) / 2.0
    });
    checks.push(Check {
        target: format!(
            "median of the {} (b)–(e) cells: ≥ {MIN_MEDIAN:.1}×",
            cells.len()
        ),
        measured: median.map_or("not measured".into(), |m| margin(m, MIN_MEDIAN)),
        met: median.is_some_and(|m| m >= MIN_MEDIAN),
    });
    for stack in BIG_STACKS {
        let ratio = rows
            .iter()
            .find(|r| r.workload.starts_with("(d)") && r.stack == stack)
            .and_then(ratio_of);
        checks.push(Check {
            target: format!("(d) {stack}: ≥ {MIN_BIG:.1}× tower-sessions"),
            measured: ratio.map_or("not measured".into(), |r| margin(r, MIN_BIG)),
            met: ratio.is_some_and(|r| r >= MIN_BIG),
        });
    }
    checks
}

/// CPU per request (app + store) of ours ≤ the peer's on every write workload and stack.
pub fn cpu(rows: &[Row]) -> Vec<Check> {
    let mut checks = Vec::new();
    for row in rows
        .iter()
        .filter(|r| WRITES.iter().any(|w| r.workload.starts_with(w)))
    {
        let pair = row.ours_cpu.zip(row.peer_cpu);
        checks.push(Check {
            target: format!(
                "{} {}: CPU µs/request (app + store) ≤ {}",
                &row.workload[..3],
                row.stack,
                peer_name(&row.stack)
            ),
            measured: pair.map_or("not measured".into(), |(o, p)| {
                let (o, p) = (o.total_us(), p.total_us());
                let pct = (o / p - 1.0) * 100.0;
                if o <= p {
                    format!("{o:.0} vs {p:.0} µs ({:.0} % less)", -pct)
                } else {
                    format!("{o:.0} vs {p:.0} µs ({pct:.0} % more)")
                }
            }),
            met: pair.is_some_and(|(o, p)| o.total_us() <= p.total_us()),
        });
    }
    checks
}

/// Instructions per request (callgrind, memory store): ours ≤ tower-sessions on every
/// workload counted, and the (a) layer at most [`MAX_LAYER_OVER_BARE`] over bare axum.
pub fn instructions(cost: &LayerCost) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut letters: Vec<char> = cost.rows.iter().map(|r| r.workload).collect();
    letters.sort_unstable();
    letters.dedup();
    for l in letters {
        let pair = cost.get("axum-ours", l).zip(cost.get("axum-peer", l));
        checks.push(Check {
            target: format!("({l}) instructions/request, memory store: ours ≤ tower-sessions"),
            measured: pair.map_or("not measured".into(), |(o, p)| {
                let pct = (o / p - 1.0) * 100.0;
                let side = if o <= p { "fewer" } else { "more" };
                format!("{o:.0} vs {p:.0} ({:.1} % {side})", pct.abs())
            }),
            met: pair.is_some_and(|(o, p)| o <= p),
        });
        let pair = cost
            .get_without_software_sha256("axum-ours", l)
            .zip(cost.get("axum-peer", l));
        checks.push(Check {
            target: format!(
                "({l}) instructions/request less the software SHA-256 valgrind makes ours run: \
                 ours ≤ tower-sessions"
            ),
            measured: pair.map_or("not measured".into(), |(o, p)| {
                let pct = (o / p - 1.0) * 100.0;
                let side = if o <= p { "fewer" } else { "more" };
                format!("{o:.0} vs {p:.0} ({:.1} % {side})", pct.abs())
            }),
            met: pair.is_some_and(|(o, p)| o <= p),
        });
    }
    let over = cost
        .get("axum-ours", 'a')
        .zip(cost.get("axum-bare", 'a'))
        .filter(|(_, b)| *b > 0.0)
        .map(|(o, b)| o / b - 1.0);
    checks.push(Check {
        target: format!(
            "(a) instructions/request: ours ≤ {:.0} % over bare axum",
            MAX_LAYER_OVER_BARE * 100.0
        ),
        measured: over.map_or("not measured".into(), |o| {
            format!("{:+.1} % over bare axum", o * 100.0)
        }),
        met: over.is_some_and(|o| o <= MAX_LAYER_OVER_BARE + 1e-9),
    });
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{cpu::CpuPerRequest, report::Summary};

    fn row(workload: &str, stack: &str, ours: f64, peer: f64) -> Row {
        Row::rates(
            workload,
            stack,
            Summary::with_rps(ours),
            Some(Summary::with_rps(peer)),
            None,
        )
    }

    #[test]
    fn every_cell_the_median_and_the_big_cells_are_checked() {
        let rows = [
            row("(a) none", "axum, Redis", 50.0, 100.0),
            row("(b) read", "axum, Redis", 130.0, 100.0),
            row("(c) write", "axum, Redis", 99.0, 100.0),
            row("(d) big", "axum, Redis", 160.0, 100.0),
            row("(d) big", "axum, PostgreSQL", 140.0, 100.0),
        ];
        let checks = throughput(&rows);
        let met = |prefix: &str| {
            checks
                .iter()
                .find(|c| c.target.starts_with(prefix))
                .map(|c| c.met)
        };
        assert_eq!(met("(a)"), None, "(a) has no ratio target");
        assert_eq!(met("(b) axum, Redis: ≥ 1.0×"), Some(true));
        assert_eq!(met("(c) axum, Redis"), Some(false));
        // Cells 0.99, 1.30, 1.40, 1.60: median 1.35.
        assert_eq!(met("median of the 4"), Some(true));
        assert_eq!(met("(d) axum, PostgreSQL: ≥ 1.5×"), Some(false));
        assert_eq!(met("(d) axum, Redis: ≥ 1.5×"), Some(true));
        let short = checks
            .iter()
            .find(|c| c.target.starts_with("(c)"))
            .map(|c| c.measured.clone());
        assert_eq!(short.as_deref(), Some("0.99× (1 % short)"));
    }

    #[test]
    fn cpu_is_checked_on_writes_only_and_unmeasured_is_a_miss() {
        let per = |app, store| {
            Some(CpuPerRequest {
                app_us: app,
                store_us: store,
            })
        };
        let mut read = row("(b) read", "axum, Redis", 1.0, 1.0);
        read.ours_cpu = per(100.0, Some(50.0));
        read.peer_cpu = per(10.0, Some(5.0));
        let mut write = row("(c) write", "axum, Redis", 1.0, 1.0);
        write.ours_cpu = per(80.0, Some(20.0));
        write.peer_cpu = per(90.0, Some(15.0));
        let bare = row("(e) login", "axum, memory", 1.0, 1.0);
        let checks = cpu(&[read, write, bare]);
        assert_eq!(checks.len(), 2);
        assert!(checks[0].met, "{:?}", checks[0]);
        assert!(!checks[1].met);
        assert_eq!(checks[1].measured, "not measured");
    }
}
