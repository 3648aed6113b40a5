//! Project automation. `cargo xtask test-all` is the one command CI runs: lints, the whole
//! store matrix against real servers, the adapters and examples, and cargo-deny.

mod mongo;
mod redis_cluster;
mod services;

use std::process::{Command, ExitCode};

use services::Services;

const USAGE: &str = "\
usage: cargo xtask <command>

  test-all   fmt, clippy, every test against every store (starting the services it
             needs), cargo-deny; stops at the first failure
  services   start the test services (Redis Cluster, Mongo stand-in), print their
             URLs, and keep them up until Enter is pressed
  lint       fmt --check, clippy -D warnings, cargo-deny only
  bench      HTTP load, ours against the peers, on the test services (release build)
";

fn main() -> ExitCode {
    let command = std::env::args().nth(1).unwrap_or_default();
    let result = match command.as_str() {
        "test-all" => test_all(),
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
    deny()
}

fn bench() -> Result<(), String> {
    let services = Services::start()?;
    let mut load = cargo(&[
        "run",
        "--release",
        "-p",
        "session-bench",
        "--bin",
        "http_load",
    ]);
    services.export_to(&mut load);
    run("HTTP load benchmark", &mut load)
}

fn lint() -> Result<(), String> {
    fmt_and_clippy()?;
    deny()
}

fn fmt_and_clippy() -> Result<(), String> {
    run(
        "cargo fmt --check",
        &mut cargo(&["fmt", "--all", "--check"]),
    )?;
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
    )
}

fn deny() -> Result<(), String> {
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
