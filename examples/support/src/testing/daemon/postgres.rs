//! A private PostgreSQL cluster for [`super::Daemon::postgres`], made the way
//! `xtask/src/pg_stats.rs` makes the benchmark's: the distribution's newest
//! `/usr/lib/postgresql/<version>/bin`, a fresh data directory under the temporary directory,
//! trust authentication for `postgres`, a free port from 55432 up on 127.0.0.1, the unix
//! socket inside the cluster's directory, `fsync = off`.
//!
//! PostgreSQL refuses to run as root, so as root every binary runs as the `postgres` user
//! through `setpriv`, which execs it (unlike `runuser`, which forks): the daemon's child
//! process is the postmaster itself, so killing or stopping it reaches the server.

use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};

use crate::testing::temp_path;

/// Where PostgreSQL's versioned binaries live on Debian and Ubuntu.
const PG_LIB: &str = "/usr/lib/postgresql";
/// The user the binaries run as when this process is root.
const OS_USER: &str = "postgres";
/// The first port tried.
const FIRST_PORT: u16 = 55432;
/// How many ports from [`FIRST_PORT`] up are tried.
const PORT_RANGE: u16 = 200;
/// Ports already handed out by [`free_port`] (it tries the next one first): two clusters
/// made at once in one process never get the same port while neither listens yet.
static HANDED_OUT: AtomicU16 = AtomicU16::new(0);

/// An initialised cluster, not running: how to run its server, and what to delete.
pub(super) struct Cluster {
    /// The program and arguments that run the postmaster in the foreground.
    pub program: String,
    pub args: Vec<String>,
    /// The directory holding the data directory and the socket (delete it afterwards).
    pub root: PathBuf,
    pub port: u16,
}

/// Creates a fresh cluster (initdb) and writes its settings; fails loudly, naming the
/// binary or command that failed (and removes what it made).
pub(super) fn create() -> Result<Cluster, String> {
    let bin = pg_bin()?;
    let as_postgres = std::fs::metadata("/proc/self")
        .map_err(|e| format!("cannot stat /proc/self: {e}"))?
        .uid()
        == 0;
    let root = temp_path("pg");
    std::fs::create_dir(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let made = init(&bin, &root, as_postgres);
    if made.is_err() {
        let _ = std::fs::remove_dir_all(&root);
    }
    let port = made?;
    let postgres = command(&bin.join("postgres"), as_postgres);
    let mut args: Vec<String> = postgres
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    args.extend(["-D".to_owned(), root.join("data").display().to_string()]);
    Ok(Cluster {
        program: postgres.get_program().to_string_lossy().into_owned(),
        args,
        root,
        port,
    })
}

/// Runs `initdb` into `root/data` and configures the cluster; returns its port.
fn init(bin: &Path, root: &Path, as_postgres: bool) -> Result<u16, String> {
    if as_postgres {
        run(Command::new("chown")
            .arg(format!("{OS_USER}:{OS_USER}"))
            .arg(root))?;
    }
    let data = root.join("data");
    let mut initdb = command(&bin.join("initdb"), as_postgres);
    run(initdb.arg("-D").arg(&data).args([
        "--auth=trust",
        "--username=postgres",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
        "--no-instructions",
    ]))?;
    let port = free_port()?;
    configure(&data, root, port)?;
    Ok(port)
}

/// Appends the settings to `postgresql.conf` (later lines win).
fn configure(data: &Path, socket_dir: &Path, port: u16) -> Result<(), String> {
    let conf = data.join("postgresql.conf");
    let mut text = std::fs::read_to_string(&conf)
        .map_err(|e| format!("cannot read {}: {e}", conf.display()))?;
    let socket_dir = socket_dir.to_string_lossy().replace('\'', "''");
    text.push_str(&format!(
        "\n# example-support: a private cluster for the outage tests\n\
         listen_addresses = '127.0.0.1'\n\
         port = {port}\n\
         unix_socket_directories = '{socket_dir}'\n\
         fsync = off\n\
         synchronous_commit = off\n\
         full_page_writes = off\n"
    ));
    std::fs::write(&conf, text).map_err(|e| format!("cannot write {}: {e}", conf.display()))
}

/// `/usr/lib/postgresql/<newest version>/bin`, checked to hold `initdb` and `postgres`.
fn pg_bin() -> Result<PathBuf, String> {
    let entries = std::fs::read_dir(PG_LIB).map_err(|e| {
        format!("cannot list {PG_LIB} (is the PostgreSQL server package installed?): {e}")
    })?;
    let newest = entries
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry
                .file_name()
                .to_str()?
                .split('.')
                .next()?
                .parse()
                .ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").exists())
        .max_by_key(|(version, _)| *version);
    let (_, bin) =
        newest.ok_or_else(|| format!("no PostgreSQL version with bin/initdb under {PG_LIB}"))?;
    match bin.join("postgres") {
        postgres if postgres.exists() => Ok(bin),
        postgres => Err(format!("{} is missing", postgres.display())),
    }
}

/// `program`, run as [`OS_USER`] through `setpriv` when `as_postgres`.
fn command(program: &Path, as_postgres: bool) -> Command {
    let mut command = if as_postgres {
        let mut setpriv = Command::new("setpriv");
        setpriv
            .arg(format!("--reuid={OS_USER}"))
            .arg(format!("--regid={OS_USER}"))
            .args(["--init-groups", "--"])
            .arg(program);
        setpriv
    } else {
        Command::new(program)
    };
    // The `postgres` user may not be allowed into this process's working directory.
    command.current_dir(std::env::temp_dir());
    command
}

/// A port from [`FIRST_PORT`] up that 127.0.0.1 could bind a moment ago.
fn free_port() -> Result<u16, String> {
    for _ in 0..PORT_RANGE {
        let port = FIRST_PORT + HANDED_OUT.fetch_add(1, Ordering::Relaxed) % PORT_RANGE;
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(format!(
        "no free port in {FIRST_PORT}..{} on 127.0.0.1",
        FIRST_PORT + PORT_RANGE
    ))
}

/// Runs `command` to completion; an error names it and quotes its output.
fn run(command: &mut Command) -> Result<(), String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
