//! A throwaway PostgreSQL cluster with `pg_stat_statements` preloaded, for the
//! round-trips benchmark: the machine's shared PostgreSQL does not preload the extension
//! and must not be restarted, so the statement counters come from a private cluster.
//!
//! Std only: the cluster is made with the distribution's own `initdb` and `pg_ctl`
//! (`/usr/lib/postgresql/<version>/bin`, the newest version found). [`start`] creates a
//! fresh data directory, writes the settings into its `postgresql.conf` (trust auth, a
//! free port from 55432 up on 127.0.0.1, the unix socket inside the data directory,
//! `shared_preload_libraries = pg_stat_statements`, `pg_stat_statements.track = all`,
//! `fsync = off`), starts the server, creates the database `bench` and the extension in it.
//! Dropping the returned [`PgStatsServer`] stops the cluster (`pg_ctl stop -m immediate`) and
//! removes its data directory.
//!
//! `initdb` refuses to run as root, so as root every PostgreSQL binary runs as the
//! `postgres` user (`runuser -u postgres -- …`), and the data directory goes under `/tmp`
//! (owned by `postgres`), because a root-owned target directory is not writable for it.

use std::fs;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Where PostgreSQL's versioned binaries live on Debian and Ubuntu.
const PG_LIB: &str = "/usr/lib/postgresql";
/// The first port tried; the next free one is used.
const FIRST_PORT: u16 = 55432;
/// How many ports from [`FIRST_PORT`] up are tried.
const PORT_RANGE: u16 = 200;
/// The database the benchmark uses (created by [`start`]).
const DATABASE: &str = "bench";
/// The user the binaries run as when this process is root.
const OS_USER: &str = "postgres";

/// A running private cluster; stopped (and its data directory removed) on drop.
pub struct PgStatsServer {
    bin: PathBuf,
    /// The directory the data directory is in (the binaries' working directory).
    root: PathBuf,
    data: PathBuf,
    /// What drop removes: the data directory, or the whole private `/tmp` directory.
    cleanup: PathBuf,
    port: u16,
    /// Whether the binaries run as [`OS_USER`] (this process is root).
    as_postgres: bool,
}

impl PgStatsServer {
    /// The connection URL of the `bench` database (superuser `postgres`, trust auth).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{DATABASE}", self.port)
    }

    fn command(&self, program: &str) -> Command {
        pg_command(&self.bin, program, self.as_postgres, &self.root)
    }
}

impl Drop for PgStatsServer {
    fn drop(&mut self) {
        // No pid file: the server never started (a failed `start`), only files to remove.
        if self.data.join("postmaster.pid").exists() {
            let mut stop = self.command("pg_ctl");
            stop.arg("-D")
                .arg(&self.data)
                .args(["stop", "-m", "immediate", "-w"]);
            if let Err(e) = run(&mut stop) {
                eprintln!("xtask: could not stop the pg_stat_statements cluster: {e}");
                return;
            }
        }
        if let Err(e) = fs::remove_dir_all(&self.cleanup) {
            eprintln!("xtask: could not remove {}: {e}", self.cleanup.display());
        }
    }
}

/// Creates and starts a fresh cluster with its data directory at `dir/data` (or, when
/// running as root, under `/tmp`, since the `postgres` user cannot write into a
/// root-owned `dir`). A `data` directory left there by a killed run is stopped and
/// replaced; nothing else in `dir` is touched.
///
/// Fails loudly, naming the command that failed and quoting its output (and the server
/// log when the server does not start).
pub fn start(dir: &Path) -> Result<PgStatsServer, String> {
    let bin = pg_bin()?;
    let as_postgres = is_root()?;
    let root = if as_postgres {
        PathBuf::from(format!("/tmp/session-pg-stats-{}", std::process::id()))
    } else {
        dir.to_owned()
    };
    let data = root.join("data");
    let cleanup = if as_postgres { &root } else { &data }.clone();
    remove_stale(&bin, as_postgres, &data, &cleanup)?;
    fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    if as_postgres {
        run(Command::new("chown")
            .arg(format!("{OS_USER}:{OS_USER}"))
            .arg(&root))?;
    }
    let port = free_port()?;
    let server = PgStatsServer {
        bin,
        root,
        data,
        cleanup,
        port,
        as_postgres,
    };
    // From here on, dropping `server` on an error stops whatever was started and
    // removes the directory.
    init(&server)?;
    configure(&server)?;
    start_server(&server)?;
    create_database(&server)?;
    Ok(server)
}

fn init(server: &PgStatsServer) -> Result<(), String> {
    run(server.command("initdb").arg("-D").arg(&server.data).args([
        "--auth=trust",
        "--username=postgres",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
    ]))
    .map(drop)
}

/// Appends the settings to `postgresql.conf` (later lines win), so no path needs quoting
/// on a command line.
fn configure(server: &PgStatsServer) -> Result<(), String> {
    let conf = server.data.join("postgresql.conf");
    let mut text =
        fs::read_to_string(&conf).map_err(|e| format!("cannot read {}: {e}", conf.display()))?;
    let socket_dir = server.data.to_string_lossy().replace('\'', "''");
    text.push_str(&format!(
        "\n# cargo xtask: private cluster for the round-trips benchmark\n\
         listen_addresses = '127.0.0.1'\n\
         port = {port}\n\
         unix_socket_directories = '{socket_dir}'\n\
         shared_preload_libraries = 'pg_stat_statements'\n\
         pg_stat_statements.track = all\n\
         fsync = off\n\
         synchronous_commit = off\n\
         full_page_writes = off\n",
        port = server.port
    ));
    fs::write(&conf, text).map_err(|e| format!("cannot write {}: {e}", conf.display()))
}

fn start_server(server: &PgStatsServer) -> Result<(), String> {
    let log = server.data.join("server.log");
    let started = run(server
        .command("pg_ctl")
        .arg("-D")
        .arg(&server.data)
        .arg("-l")
        .arg(&log)
        .args(["-w", "-t", "60", "start"]));
    started
        .map(drop)
        .map_err(|e| format!("{e}\n{}", crate::services::log_tail(&log)))
}

fn create_database(server: &PgStatsServer) -> Result<(), String> {
    let psql = |server: &PgStatsServer, database: &str, sql: &str| {
        let mut command = server.command("psql");
        command
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .arg("-p")
            .arg(server.port.to_string())
            .args(["-U", "postgres", "-d", database, "-c", sql]);
        run(&mut command).map(drop)
    };
    psql(server, "postgres", &format!("CREATE DATABASE {DATABASE}"))?;
    psql(
        server,
        DATABASE,
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
    )
}

/// `/usr/lib/postgresql/<newest version>/bin`, checked to hold what is needed.
fn pg_bin() -> Result<PathBuf, String> {
    let entries = fs::read_dir(PG_LIB).map_err(|e| {
        format!("cannot list {PG_LIB} (is the PostgreSQL server package installed?): {e}")
    })?;
    let newest = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version: u32 = name.split('.').next()?.parse().ok()?;
            Some((version, entry.path()))
        })
        .filter(|(_, path)| path.join("bin").join("initdb").exists())
        .max_by_key(|(version, _)| *version);
    let (version, path) =
        newest.ok_or_else(|| format!("no PostgreSQL version with bin/initdb under {PG_LIB}"))?;
    let bin = path.join("bin");
    for program in ["pg_ctl", "psql"] {
        if !bin.join(program).exists() {
            return Err(format!("{} is missing", bin.join(program).display()));
        }
    }
    let library = path.join("lib").join("pg_stat_statements.so");
    if !library.exists() {
        return Err(format!(
            "{} is missing: pg_stat_statements is not installed for PostgreSQL {version}",
            library.display()
        ));
    }
    Ok(bin)
}

/// Whether this process runs as root (`id -u` prints 0).
pub(crate) fn is_root() -> Result<bool, String> {
    let out = run(Command::new("id").arg("-u"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// A data directory left by an earlier run that was killed: stop its server (if any) and
/// remove `cleanup`.
fn remove_stale(bin: &Path, as_postgres: bool, data: &Path, cleanup: &Path) -> Result<(), String> {
    if data.join("postmaster.pid").exists() {
        let mut stop = pg_command(bin, "pg_ctl", as_postgres, Path::new("/"));
        stop.arg("-D")
            .arg(data)
            .args(["stop", "-m", "immediate", "-w"]);
        // Already stopped is fine: the directory goes either way.
        let _ = run(&mut stop);
    }
    match fs::remove_dir_all(cleanup) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove stale {}: {e}", cleanup.display())),
    }
}

/// `bin/program`, run as [`OS_USER`] through `runuser` when `as_postgres`, in `cwd` (the
/// `postgres` user may not be allowed into this process's working directory).
fn pg_command(bin: &Path, program: &str, as_postgres: bool, cwd: &Path) -> Command {
    let path = bin.join(program);
    let mut command = if as_postgres {
        let mut runuser = Command::new("runuser");
        runuser.args(["-u", OS_USER, "--"]).arg(path);
        runuser
    } else {
        Command::new(path)
    };
    command.current_dir(cwd).stdin(Stdio::null());
    command
}

/// A port from [`FIRST_PORT`] up that 127.0.0.1 could bind a moment ago.
fn free_port() -> Result<u16, String> {
    (FIRST_PORT..FIRST_PORT + PORT_RANGE)
        .find(|&port| TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok())
        .ok_or_else(|| {
            format!(
                "no free port in {FIRST_PORT}..{} on 127.0.0.1",
                FIRST_PORT + PORT_RANGE
            )
        })
}

/// Runs `command` to completion; an error names it and quotes its output.
fn run(command: &mut Command) -> Result<Output, String> {
    let out = command
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{command:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
