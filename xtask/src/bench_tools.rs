//! The tools `cargo xtask bench` needs beyond the test set-up, installed when missing:
//! valgrind (the callgrind instruction counts of `layer_cost`). The HTTP load comes from the
//! bench's own driver process, so no load generator is installed.

use std::process::{Command, Stdio};

/// (program on PATH, Debian package, what for).
const TOOLS: &[(&str, &str, &str)] = &[(
    "valgrind",
    "valgrind",
    "the instruction counts per request (`layer_cost`, callgrind)",
)];

fn on_path(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn exec(command: &mut Command, shown: &str) -> Result<(), String> {
    eprintln!("xtask: bench set-up: $ {shown}");
    let status = command
        .status()
        .map_err(|e| format!("{shown}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{shown}: {status}; is the Debian mirror reachable?"
        ))
    }
}

/// Installs every missing tool with apt-get (one update, one install); as non-root or
/// without apt-get, says which commands to run instead.
pub fn ensure() -> Result<(), String> {
    let missing: Vec<_> = TOOLS.iter().filter(|(p, _, _)| !on_path(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let packages: Vec<&str> = missing.iter().map(|(_, package, _)| *package).collect();
    for (program, _, why) in &missing {
        eprintln!("xtask: bench set-up: installing {program} — for {why}");
    }
    let install = format!(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q {}",
        packages.join(" ")
    );
    if !on_path("apt-get") || !is_root() {
        return Err(format!(
            "bench needs {}; run as root: apt-get update -q && {install}",
            packages.join(", ")
        ));
    }
    exec(
        Command::new("apt-get").args(["update", "-q"]),
        "apt-get update -q",
    )?;
    exec(
        Command::new("apt-get")
            .args(["install", "-y", "-q"])
            .args(&packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        &install,
    )?;
    match missing.iter().find(|(p, _, _)| !on_path(p)) {
        Some((program, _, _)) => Err(format!("{program} still missing after `{install}`")),
        None => Ok(()),
    }
}
