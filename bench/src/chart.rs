//! The chart in BENCHMARKS.md: ours/peer throughput per workload and stack as horizontal bars,
//! drawn as a standalone SVG (no plotting dependency, so the file is reproducible byte for
//! byte from the same numbers).

use std::fmt::Write as _;

use crate::report::Row;

const WIDTH: f64 = 880.0;
const LABEL_WIDTH: f64 = 250.0;
const PLOT_RIGHT: f64 = WIDTH - 60.0;
const BAR: f64 = 13.0;
const GAP: f64 = 3.0;
const GROUP_GAP: f64 = 18.0;
const TOP: f64 = 60.0;
const COLORS: [&str; 6] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1",
];

/// One bar: a workload on a stack, ours/peer.
struct Bar<'a> {
    stack: &'a str,
    ratio: f64,
}

/// Renders the ours/peer req/s ratio of every row that has a peer as an SVG document.
pub fn ratios_svg(rows: &[Row]) -> String {
    let mut stacks: Vec<&str> = Vec::new();
    let mut groups: Vec<(&str, Vec<Bar<'_>>)> = Vec::new();
    for row in rows {
        let Some(peer) = row.peer.filter(|p| p.rps > 0.0) else {
            continue;
        };
        if !stacks.contains(&row.stack.as_str()) {
            stacks.push(&row.stack);
        }
        let bar = Bar {
            stack: &row.stack,
            ratio: row.ours.rps / peer.rps,
        };
        match groups.iter_mut().find(|(w, _)| *w == row.workload) {
            Some((_, bars)) => bars.push(bar),
            None => groups.push((&row.workload, vec![bar])),
        }
    }
    let max = groups
        .iter()
        .flat_map(|(_, bars)| bars.iter().map(|b| b.ratio))
        .fold(2.0_f64, f64::max)
        .ceil();
    let x = |ratio: f64| LABEL_WIDTH + (PLOT_RIGHT - LABEL_WIDTH) * ratio / max;
    let bars_height: f64 = groups
        .iter()
        .map(|(_, bars)| bars.len() as f64 * (BAR + GAP) + GROUP_GAP)
        .sum();
    let legend_top = TOP + bars_height + 20.0;
    let height = legend_top + 20.0 * stacks.len() as f64 + 10.0;

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{}" y="22" font-size="15" font-weight="bold" text-anchor="middle">Throughput, ours / peer (median req/s; right of 1.0 = ours faster)</text>"##,
        WIDTH / 2.0
    );
    // Grid: a line per 0.5, the 1.0 line emphasised.
    let mut tick = 0.0;
    while tick <= max + 1e-9 {
        let (stroke, width) = if (tick - 1.0_f64).abs() < 1e-9 {
            ("#222222", 1.5)
        } else {
            ("#dddddd", 1.0)
        };
        let _ = writeln!(
            svg,
            r##"<line x1="{0:.1}" y1="{1}" x2="{0:.1}" y2="{2}" stroke="{stroke}" stroke-width="{width}"/><text x="{0:.1}" y="{3}" text-anchor="middle" fill="#555555">{tick:.1}</text>"##,
            x(tick),
            TOP - 8.0,
            TOP + bars_height,
            TOP - 12.0,
        );
        tick += 0.5;
    }
    let mut y = TOP;
    for (workload, bars) in &groups {
        let group_height = bars.len() as f64 * (BAR + GAP);
        let _ = writeln!(
            svg,
            r#"<text x="8" y="{:.1}" font-weight="bold">{}</text>"#,
            y + group_height / 2.0 + 4.0,
            escape(workload)
        );
        for bar in bars {
            let color = stacks
                .iter()
                .position(|s| *s == bar.stack)
                .map_or(COLORS[0], |i| COLORS[i % COLORS.len()]);
            let _ = writeln!(
                svg,
                r#"<rect x="{LABEL_WIDTH}" y="{y:.1}" width="{:.1}" height="{BAR}" fill="{color}"><title>{}: {:.2}</title></rect><text x="{:.1}" y="{:.1}" font-size="11">{:.2}</text>"#,
                x(bar.ratio) - LABEL_WIDTH,
                escape(bar.stack),
                bar.ratio,
                x(bar.ratio) + 4.0,
                y + BAR - 2.0,
                bar.ratio
            );
            y += BAR + GAP;
        }
        y += GROUP_GAP;
    }
    for (i, stack) in stacks.iter().enumerate() {
        let top = legend_top + 20.0 * i as f64;
        let _ = writeln!(
            svg,
            r#"<rect x="{LABEL_WIDTH}" y="{top:.1}" width="14" height="14" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            COLORS[i % COLORS.len()],
            LABEL_WIDTH + 20.0,
            top + 11.0,
            escape(&peer_label(stack))
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// "axum, Redis" → "axum, Redis: ours vs tower-sessions"; stacks naming their peer in
/// parentheses keep it.
fn peer_label(stack: &str) -> String {
    match stack.split_once(" (") {
        Some((stack, peer)) => format!("{stack}: ours vs {}", peer.trim_end_matches(')')),
        None => format!("{stack}: ours vs tower-sessions"),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Summary;

    fn summary(rps: f64) -> Summary {
        Summary::with_rps(rps)
    }

    #[test]
    fn one_bar_per_row_with_a_peer_and_its_ratio() {
        let row = |workload: &str, stack: &str, ours, peer: Option<f64>| {
            Row::rates(workload, stack, summary(ours), peer.map(summary), None)
        };
        let svg = ratios_svg(&[
            row("(a) none", "axum, memory", 100.0, Some(50.0)),
            row(
                "(a) none",
                "actix-web, Redis (actix-session)",
                30.0,
                Some(40.0),
            ),
            row("(b) <read>", "axum, memory", 10.0, None),
        ]);
        assert_eq!(svg.matches("<title>").count(), 2);
        assert!(svg.contains("<title>axum, memory: 2.00</title>"));
        assert!(svg.contains("<title>actix-web, Redis (actix-session): 0.75</title>"));
        assert!(svg.contains("actix-web, Redis: ours vs actix-session"));
        assert!(svg.contains("axum, memory: ours vs tower-sessions"));
        assert!(!svg.contains("<read>"), "rows without a peer draw nothing");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
    }
}
