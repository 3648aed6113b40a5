//! Writes BENCHMARKS.md and its chart from the result files of the other bench tools.
//!
//! `cargo run --release --manifest-path bench/Cargo.toml --bin report -- [--results target/bench-results]
//! [--criterion target/criterion] [--doc BENCHMARKS.md] [--chart bench/chart.svg]
//! [--scale-chart bench/scale.svg]`. A missing
//! result file is reported as "not measured" in the document and named on stderr; a file that
//! exists and does not parse is an error.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use session_bench::{chart, chart_scale, document, micro, report};

fn main() -> Result<(), String> {
    let mut results_dir = PathBuf::from("target/bench-results");
    let mut criterion_dir = PathBuf::from("target/criterion");
    let mut doc_path = PathBuf::from("BENCHMARKS.md");
    let mut chart_path = PathBuf::from("bench/chart.svg");
    let mut scale_chart_path = PathBuf::from("bench/scale.svg");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .map(PathBuf::from)
            .ok_or_else(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--results" => results_dir = value,
            "--criterion" => criterion_dir = value,
            "--doc" => doc_path = value,
            "--chart" => chart_path = value,
            "--scale-chart" => scale_chart_path = value,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let results = document::Results {
        http: optional(&results_dir.join("http_load.json"))?,
        micro: if criterion_dir.is_dir() {
            Some(micro::collect(&criterion_dir)?)
        } else {
            eprintln!(
                "report: no {}: store benchmarks not measured",
                criterion_dir.display()
            );
            None
        },
        round_trips: optional(&results_dir.join("round_trips.json"))?,
        churn: optional(&results_dir.join("memory_churn.json"))?,
        cost: optional(&results_dir.join("layer_cost.json"))?,
        scale: optional(&results_dir.join("scale_curves.json"))?,
    };
    let charts = document::Charts {
        ratios: relative(&chart_path, &doc_path),
        scale: relative(&scale_chart_path, &doc_path),
    };
    let text = document::render(&results, &machine(), &charts);
    std::fs::write(&doc_path, text).map_err(|e| format!("{}: {e}", doc_path.display()))?;
    eprintln!("report: wrote {}", doc_path.display());
    if let Some(http) = &results.http {
        std::fs::write(&chart_path, chart::ratios_svg(&http.rows))
            .map_err(|e| format!("{}: {e}", chart_path.display()))?;
        eprintln!("report: wrote {}", chart_path.display());
    }
    if let Some(scale) = &results.scale {
        std::fs::write(&scale_chart_path, chart_scale::scale_svg(scale))
            .map_err(|e| format!("{}: {e}", scale_chart_path.display()))?;
        eprintln!("report: wrote {}", scale_chart_path.display());
    }
    Ok(())
}

/// The result at `path`, or `None` (with a note on stderr) when that part was not run.
fn optional<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    if path.exists() {
        report::read_json(path).map(Some)
    } else {
        eprintln!("report: no {}: reported as not measured", path.display());
        Ok(None)
    }
}

/// `chart` as linked from the directory of `doc` (both relative to the working directory).
fn relative(chart: &Path, doc: &Path) -> String {
    let doc_dir = doc.parent().unwrap_or(Path::new(""));
    chart
        .strip_prefix(doc_dir)
        .unwrap_or(chart)
        .display()
        .to_string()
}

/// The machine in a few lines: CPU, cores, memory, kernel, toolchain, server versions.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or("?".into(), |kb| format!("{:.1}", kb / 1024.0 / 1024.0));
    let lines = [
        format!("- CPU: {cpu}, {cores} cores available; memory {mem_gib} GiB"),
        format!(
            "- report written (UTC): {}",
            output("date", &["-u", "+%Y-%m-%d %H:%M"])
        ),
        format!("- kernel: {}", output("uname", &["-sr"])),
        format!("- {}", output("rustc", &["--version"])),
        format!("- {}", output("redis-server", &["--version"])),
        format!("- {}", output("psql", &["--version"])),
        "- MongoDB wire protocol: SecantusDB 0.7.0b3 (in-memory WiredTiger), when started by \
         `cargo xtask bench`; `MONGO_URI` overrides it"
            .to_owned(),
        "- Servers, load driver and databases share the machine: every HTTP stack runs in a \
         `bench_server` process of its own (loopback TCP), the load comes from the `http_load` \
         (or `scale_curves`) process; axum on a 2-worker tokio runtime, actix-web with 2 workers."
            .to_owned(),
    ];
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| format!("{program}: not found"))
}
