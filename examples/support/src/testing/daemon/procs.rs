//! Signals to a daemon's process tree (the process and its descendants, read from
//! `/proc`), sent with the `kill` command: the workspace has no signal crate, and the
//! tests forbid `unsafe`. PostgreSQL needs the tree, not the process group: each of its
//! backends calls `setsid()`, so the postmaster's group holds the postmaster alone.

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the processes may take to stop or to die after the signal.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);

/// `(pid, parent pid, state)` of every process `/proc` shows.
fn processes() -> Vec<(u32, u32, char)> {
    let dir = std::fs::read_dir("/proc").unwrap_or_else(|e| panic!("cannot list /proc: {e}"));
    dir.flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
            let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
            let state = fields.next()?.chars().next()?;
            let ppid = fields.next()?.parse().ok()?;
            Some((pid, ppid, state))
        })
        .collect()
}

/// The state letter of `pid` (`T` stopped, `Z` zombie, …), `None` when it is gone.
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// Every descendant of `root` (children, their children, …).
fn descendants(root: u32) -> Vec<u32> {
    let all = processes();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(all.iter().filter(|p| p.1 == parent).map(|p| p.0));
        i += 1;
    }
    found.split_off(1)
}

/// `kill -s SIGNAL pid…`; `Err` with its output when it fails (e.g. a pid is gone).
fn signal(name: &str, pids: &[u32]) -> Result<(), String> {
    if pids.is_empty() {
        return Ok(());
    }
    let out = Command::new("kill")
        .args(["-s", name, "--"])
        .args(pids.iter().map(u32::to_string))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run kill: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "kill -s {name} {pids:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Waits until every pid is in a state `done` accepts (or gone, when `gone_ok`).
fn settle(pids: &[u32], what: &str, gone_ok: bool, done: impl Fn(char) -> bool) {
    let started = Instant::now();
    loop {
        let pending: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|&pid| match state(pid) {
                Some(s) => !done(s),
                None => !gone_ok,
            })
            .collect();
        if pending.is_empty() {
            return;
        }
        assert!(
            started.elapsed() < SETTLE_TIMEOUT,
            "processes {pending:?} did not {what} within {SETTLE_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// SIGSTOPs `root`, then (once it is stopped and can fork no more) every descendant, and
/// returns every pid stopped, `root` first. Panics when `root` cannot be stopped.
pub(super) fn stop_tree(root: u32) -> Vec<u32> {
    signal("STOP", &[root]).unwrap_or_else(|e| panic!("{e}"));
    settle(&[root], "stop", false, |s| s == 'T');
    let mut stopped = vec![root];
    loop {
        let known: HashSet<u32> = stopped.iter().copied().collect();
        let pending: Vec<u32> = descendants(root)
            .into_iter()
            .filter(|pid| !known.contains(pid))
            .collect();
        if pending.is_empty() {
            return stopped;
        }
        // A descendant that exited meanwhile makes `kill` fail; the others still got it.
        let _ = signal("STOP", &pending);
        settle(&pending, "stop", true, |s| s == 'T' || s == 'Z');
        stopped.extend(pending);
    }
}

/// SIGCONTs `pids` (from [`stop_tree`]). Panics when `kill` fails.
pub(super) fn continue_all(pids: &[u32]) {
    signal("CONT", pids).unwrap_or_else(|e| panic!("{e}"));
}

/// SIGKILLs `root` and every descendant (stopped first, so none forks meanwhile) and
/// waits until all of them are dead (zombies included: they hold nothing any more).
pub(super) fn kill_tree(root: u32) {
    if state(root).is_none_or(|s| s == 'Z') {
        return;
    }
    let pids = stop_tree(root);
    // A process that exited meanwhile makes `kill` fail; the others still got it.
    let _ = signal("KILL", &pids);
    settle(&pids, "die", true, |s| s == 'Z');
}
