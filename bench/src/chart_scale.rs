//! The scale-curve plot: two panels over the connection count (evenly spaced, as measured):
//! requests/s on a log axis (ours solid, the peer dashed, a colour per session size) and the
//! ours/peer ratio (the 1.0 line emphasised). A standalone SVG, reproducible from the numbers.

use std::fmt::Write as _;

use crate::scale::ScaleResult;

const WIDTH: f64 = 920.0;
const HEIGHT: f64 = 420.0;
const PANEL_TOP: f64 = 60.0;
const PANEL_BOTTOM: f64 = 340.0;
const COLORS: [&str; 6] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1",
];

/// A panel's horizontal extent.
struct Panel {
    left: f64,
    right: f64,
}

impl Panel {
    fn x(&self, index: usize, count: usize) -> f64 {
        if count <= 1 {
            return (self.left + self.right) / 2.0;
        }
        self.left + (self.right - self.left) * index as f64 / (count - 1) as f64
    }
}

fn y_of(value: f64, low: f64, high: f64) -> f64 {
    let t = if high > low {
        (value - low) / (high - low)
    } else {
        0.5
    };
    PANEL_BOTTOM - (PANEL_BOTTOM - PANEL_TOP) * t.clamp(0.0, 1.0)
}

/// Renders `result` as an SVG document.
pub fn scale_svg(result: &ScaleResult) -> String {
    let mut keys: Vec<usize> = result.points.iter().map(|p| p.keys).collect();
    keys.dedup();
    let mut conns: Vec<usize> = result.points.iter().map(|p| p.concurrency).collect();
    conns.sort_unstable();
    conns.dedup();
    let rates = result
        .points
        .iter()
        .flat_map(|p| [p.ours.rps, p.peer.rps])
        .filter(|r| *r > 0.0);
    let (lo, hi) = rates.fold((f64::MAX, 0.0_f64), |(lo, hi), r| (lo.min(r), hi.max(r)));
    let (log_lo, log_hi) = if hi > 0.0 {
        (
            lo.log10().floor(),
            hi.log10().ceil().max(lo.log10().floor() + 1.0),
        )
    } else {
        (0.0, 1.0)
    };
    let ratios: Vec<f64> = result
        .points
        .iter()
        .filter(|p| p.peer.rps > 0.0)
        .map(|p| p.ours.rps / p.peer.rps)
        .collect();
    let ratio_hi = ratios.iter().copied().fold(2.0_f64, f64::max).ceil();
    let left = Panel {
        left: 90.0,
        right: 420.0,
    };
    let right = Panel {
        left: 540.0,
        right: 880.0,
    };

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{}" y="22" font-size="15" font-weight="bold" text-anchor="middle">Workload (d) scale: one key of N changes per request — {}</text>"##,
        WIDTH / 2.0,
        escape(&result.stack)
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="44" text-anchor="middle">requests/s (log scale; ours solid, peer dashed)</text><text x="{}" y="44" text-anchor="middle">ours / peer (above 1.0 = ours faster)</text>"#,
        (left.left + left.right) / 2.0,
        (right.left + right.right) / 2.0
    );
    // Left axis: decades.
    let mut decade = log_lo;
    while decade <= log_hi + 1e-9 {
        let y = y_of(decade, log_lo, log_hi);
        let _ = writeln!(
            svg,
            r##"<line x1="{}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#dddddd"/><text x="{}" y="{:.1}" text-anchor="end" fill="#555555">{}</text>"##,
            left.left,
            left.right,
            left.left - 6.0,
            y + 4.0,
            format_rate(10f64.powf(decade))
        );
        decade += 1.0;
    }
    // Right axis: every 0.5.
    let mut tick = 0.0;
    while tick <= ratio_hi + 1e-9 {
        let y = y_of(tick, 0.0, ratio_hi);
        let (stroke, width) = if (tick - 1.0_f64).abs() < 1e-9 {
            ("#222222", 1.5)
        } else {
            ("#dddddd", 1.0)
        };
        let _ = writeln!(
            svg,
            r##"<line x1="{}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="{stroke}" stroke-width="{width}"/><text x="{}" y="{:.1}" text-anchor="end" fill="#555555">{tick:.1}</text>"##,
            right.left,
            right.right,
            right.left - 6.0,
            y + 4.0
        );
        tick += 0.5;
    }
    for panel in [&left, &right] {
        for (i, c) in conns.iter().enumerate() {
            let x = panel.x(i, conns.len());
            let _ = writeln!(
                svg,
                r##"<line x1="{x:.1}" y1="{PANEL_TOP}" x2="{x:.1}" y2="{PANEL_BOTTOM}" stroke="#eeeeee"/><text x="{x:.1}" y="{}" text-anchor="middle" fill="#555555">{c}</text>"##,
                PANEL_BOTTOM + 16.0
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">connections</text>"#,
            (panel.left + panel.right) / 2.0,
            PANEL_BOTTOM + 34.0
        );
    }
    for (k, size) in keys.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let series = |value: &dyn Fn(&crate::scale::ScalePoint) -> Option<f64>,
                      panel: &Panel,
                      scale: &dyn Fn(f64) -> f64| {
            let points: Vec<String> = conns
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    let p = result
                        .points
                        .iter()
                        .find(|p| p.keys == *size && p.concurrency == *c)?;
                    let v = value(p)?;
                    Some(format!("{:.1},{:.1}", panel.x(i, conns.len()), scale(v)))
                })
                .collect();
            points.join(" ")
        };
        let log_y = |v: f64| y_of(v.log10(), log_lo, log_hi);
        let ratio_y = |v: f64| y_of(v, 0.0, ratio_hi);
        let ours = series(&|p| (p.ours.rps > 0.0).then_some(p.ours.rps), &left, &log_y);
        let peer = series(&|p| (p.peer.rps > 0.0).then_some(p.peer.rps), &left, &log_y);
        let ratio = series(
            &|p| (p.peer.rps > 0.0).then(|| p.ours.rps / p.peer.rps),
            &right,
            &ratio_y,
        );
        let _ = writeln!(
            svg,
            r#"<polyline points="{ours}" fill="none" stroke="{color}" stroke-width="2"><title>ours, {size} keys</title></polyline>"#
        );
        let _ = writeln!(
            svg,
            r#"<polyline points="{peer}" fill="none" stroke="{color}" stroke-width="2" stroke-dasharray="6 4"><title>peer, {size} keys</title></polyline>"#
        );
        let _ = writeln!(
            svg,
            r#"<polyline points="{ratio}" fill="none" stroke="{color}" stroke-width="2"><title>ours/peer, {size} keys</title></polyline>"#
        );
        for pair in ratio.split(' ').filter(|p| !p.is_empty()) {
            if let Some((x, y)) = pair.split_once(',') {
                let _ = writeln!(svg, r#"<circle cx="{x}" cy="{y}" r="3" fill="{color}"/>"#);
            }
        }
        let lx = 90.0 + 190.0 * k as f64;
        let _ = writeln!(
            svg,
            r#"<line x1="{lx}" y1="{0}" x2="{1}" y2="{0}" stroke="{color}" stroke-width="3"/><text x="{2}" y="{3}">{size} key{4} × 200 B</text>"#,
            HEIGHT - 22.0,
            lx + 24.0,
            lx + 30.0,
            HEIGHT - 18.0,
            if *size == 1 { "" } else { "s" }
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn format_rate(rate: f64) -> String {
    if rate >= 1000.0 {
        format!("{:.0}k", rate / 1000.0)
    } else {
        format!("{rate:.0}")
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
    use crate::{report::Summary, scale::ScalePoint};

    #[test]
    fn a_line_per_size_and_side_and_a_ratio_line() {
        let point = |keys, concurrency, ours, peer| ScalePoint {
            keys,
            concurrency,
            ours: Summary::with_rps(ours),
            peer: Summary::with_rps(peer),
            ours_cpu: None,
            peer_cpu: None,
        };
        let result = ScaleResult {
            stack: "axum, Redis: ours vs tower-sessions".into(),
            settings: String::new(),
            points: vec![
                point(1, 1, 100.0, 50.0),
                point(1, 8, 400.0, 200.0),
                point(20, 1, 90.0, 90.0),
                point(20, 8, 300.0, 150.0),
            ],
        };
        let svg = scale_svg(&result);
        assert_eq!(svg.matches("<polyline").count(), 6);
        assert!(svg.contains("<title>ours/peer, 20 keys</title>"));
        assert!(svg.contains("20 keys × 200 B"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
    }
}
