//! Project automation. `cargo xtask test-all` is the one command CI runs: set-up (installing
//! what is missing), lints, the whole store matrix against real servers, the adapters and
//! examples, and cargo-deny.

mod bench_tools;
mod mongo;
mod pg_stats;
mod redis_cluster;
// The failover test (examples/support) uses the parts xtask does not.
#[allow(dead_code)]
mod redis_sentinel;
mod services;
mod setup;

use std::process::{Command, ExitCode};

use services::Services;

const USAGE: &str = "\
usage: cargo xtask <command>

  test-all   installs the tools it needs when missing, then fmt, clippy (bench/ too),
             every test against every store (starting the services it needs), the API
             docs with -D warnings, a compile check of fuzz/, cargo-deny; stops at the
             first failure
  services   start the test services (Redis Cluster, Redis Sentinel, Mongo stand-in),
             print their URLs, and keep them up until Enter is pressed
  lint       fmt --check, clippy -D warnings, cargo-deny only
  bench      every benchmark (store micro-benchmarks, memory churn, round trips from the
             servers' counters, HTTP load against the peers from a separate process with
             CPU per request, scale curves, callgrind instruction counts; installs valgrind
             when missing), then BENCHMARKS.md, bench/chart.svg and bench/scale.svg
";

fn main() -> ExitCode {
    let command = std::env::args().nth(1).unwrap_or_default();
    let result = match command.as_str() {
        "test-all" => test_all(),
        // Only test-all's set-up step (hidden).
        "setup" => setup::run(),
        "lint" => lint(),
        "services" => services_foreground(),
        "bench" => bench(),
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

fn test_all() -> Result<(), String> {
    setup::run()?;
    fmt_and_clippy()?;
    let services = Services::start()?;
    let mut test = cargo(&["test", "--workspace", "--all-targets"]);
    services.export_to(&mut test);
    run(
        "workspace tests (all stores, adapters, examples)",
        &mut test,
    )?;
    let mut doc = cargo(&["test", "--workspace", "--doc"]);
    services.export_to(&mut doc);
    run("doc tests", &mut doc)?;
    drop(services);
    docs()?;
    check_fuzz()?;
    deny()
}

/// The API docs build without a warning: a broken intra-doc link or a bad code block fails.
fn docs() -> Result<(), String> {
    run(
        "API docs (cargo doc --workspace --no-deps, -D warnings)",
        cargo(&["doc", "--workspace", "--no-deps"]).env("RUSTDOCFLAGS", "-D warnings"),
    )
}

/// fuzz/ is its own workspace (nightly-only flags to run, but it builds on stable): its
/// targets must keep compiling against the crates they fuzz.
fn check_fuzz() -> Result<(), String> {
    run(
        "fuzz targets compile (cargo check, fuzz/ workspace)",
        cargo(&["check", "--manifest-path"])
            .arg(workspace_root().join("fuzz/Cargo.toml"))
            .env("CARGO_TARGET_DIR", services::target_dir()),
    )
}

fn bench() -> Result<(), String> {
    let started = std::time::Instant::now();
    bench_tools::ensure()?;
    let root = workspace_root();
    let target = services::target_dir();
    let results = target.join("bench-results");
    let criterion = target.join("criterion");
    // Start from nothing, so a part that fails cannot leave an older run's numbers behind.
    for dir in [&results, &criterion] {
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!("{}: {e}", dir.display()));
            }
            _ => {}
        }
    }
    // bench/ is its own workspace: every cargo command names its manifest and runs from the
    // repository root in our target dir, so the relative result paths and criterion's
    // `target/criterion` stay where `report` reads them.
    let bench_cargo = |args: &[&str]| {
        let mut command = cargo(&[args[0], "-q", "--manifest-path"]);
        command
            .arg(root.join("bench/Cargo.toml"))
            .args(&args[1..])
            .current_dir(&root)
            .env("CARGO_TARGET_DIR", &target);
        command
    };
    // Every binary, bench_server included: http_load and scale_curves start it.
    run(
        "build the benchmarks (release)",
        &mut bench_cargo(&["build", "--release", "--bins", "--benches"]),
    )?;
    let services = Services::start()?;
    let stats_postgres = pg_stats::start(&target.join("pg-stats"))?;
    // `cargo run` of one session-bench binary.
    // The binaries the build above produced, run directly: `cargo run --bin` would build
    // them again without the benches' dev-dependency features (minutes, measured as part of
    // the first step that ran).
    let bench_bin = |name: &str| {
        let mut command = Command::new(target.join("release").join(name));
        command.current_dir(&root);
        command
    };
    let criterion_run = bench_cargo(&["bench", "--bench", "stores"]);
    let mut steps = vec![("store micro-benchmarks (criterion)", criterion_run)];
    for (what, name, args) in [
        // 2,000,000 sessions through a bound of 100,000 already show whether memory stays flat.
        (
            "memory store churn",
            "memory_churn",
            &["--sessions", "2000000"][..],
        ),
        ("round trips per request", "round_trips", &[][..]),
        (
            "instructions per request (callgrind)",
            "layer_cost",
            &["--n", "500,1500"][..],
        ),
        (
            "HTTP load against the peers (separate processes, CPU per request)",
            "http_load",
            // 4 s rounds keep the whole run, release build included, under 30 minutes.
            &["--secs", "4", "--rounds", "3"][..],
        ),
        (
            "scale curves (Redis)",
            "scale_curves",
            &["--secs", "2", "--rounds", "2"][..],
        ),
    ] {
        let mut command = bench_bin(name);
        command
            .args(args)
            .arg("--out")
            .arg(results.join(format!("{name}.json")));
        steps.push((what, command));
    }
    for (what, mut command) in steps {
        command.env("PG_STATS_URL", stats_postgres.url());
        services.export_to(&mut command);
        let step = std::time::Instant::now();
        run(what, &mut command)?;
        eprintln!(
            "xtask: {what}: {:.1} min (total {:.1} min)",
            step.elapsed().as_secs_f64() / 60.0,
            started.elapsed().as_secs_f64() / 60.0
        );
    }
    drop(stats_postgres);
    drop(services);
    let mut command = bench_bin("report");
    command
        .arg("--results")
        .arg(&results)
        .arg("--criterion")
        .arg(&criterion)
        .arg("--doc")
        .arg(root.join("BENCHMARKS.md"))
        .arg("--chart")
        .arg(root.join("bench/chart.svg"))
        .arg("--scale-chart")
        .arg(root.join("bench/scale.svg"));
    run(
        "BENCHMARKS.md, bench/chart.svg and bench/scale.svg",
        &mut command,
    )?;
    eprintln!(
        "xtask: bench finished in {:.1} min",
        started.elapsed().as_secs_f64() / 60.0
    );
    Ok(())
}

/// The workspace root (xtask lives one level below it).
fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn lint() -> Result<(), String> {
    fmt_and_clippy()?;
    deny()
}

fn fmt_and_clippy() -> Result<(), String> {
    let bench = workspace_root().join("bench/Cargo.toml");
    run(
        "cargo fmt --check",
        &mut cargo(&["fmt", "--all", "--check"]),
    )?;
    for (name, manifest) in [
        ("cargo fmt --check (bench/ workspace)", &bench),
        (
            "cargo fmt --check (fuzz/ workspace)",
            &workspace_root().join("fuzz/Cargo.toml"),
        ),
    ] {
        run(
            name,
            cargo(&["fmt", "--check", "--manifest-path"]).arg(manifest),
        )?;
    }
    run(
        "cargo clippy",
        &mut cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // bench/ is its own workspace (the peers' lock): compile-checked and linted here, in our
    // target dir.
    run(
        "cargo clippy (bench/ workspace, all targets)",
        cargo(&["clippy", "--all-targets", "--manifest-path"])
            .arg(&bench)
            .args(["--", "-D", "warnings"])
            .env("CARGO_TARGET_DIR", services::target_dir()),
    )
}

fn deny() -> Result<(), String> {
    // cargo-deny reads every platform's packages (offline); a build fetched only this one's.
    run("cargo fetch", &mut cargo(&["fetch"]))?;
    run(
        "cargo deny",
        &mut cargo(&["deny", "--offline", "check", "bans", "licenses", "sources"]),
    )
}

fn services_foreground() -> Result<(), String> {
    let services = Services::start()?;
    for (name, value) in services.env() {
        println!("export {name}='{value}'");
    }
    println!("# services are up; press Enter to stop them");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    drop(services);
    Ok(())
}

fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.args(args);
    command
}

fn run(what: &str, command: &mut Command) -> Result<(), String> {
    eprintln!("xtask: == {what}");
    let status = command
        .status()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what}: {status}"))
    }
}
