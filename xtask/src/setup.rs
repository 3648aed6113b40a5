//! The set-up `test-all` runs first (alone: `cargo xtask setup`): everything the command
//! needs on this machine, installed when it is missing.
//!
//! [`requirements`] is the table: what is needed, why, how to tell it is there and how to
//! install it. [`plan`] turns the missing rows into install steps — one `apt-get update` and
//! one `apt-get install` for all Debian packages, then rustup, `cargo install`, pip in a venv
//! and `npm ci` — or, when any step cannot run here (apt-get without root, no apt-get, no
//! rustup, no cargo), into one error that lists everything missing and the exact commands,
//! before anything is run. When nothing is missing nothing runs (no `apt-get update`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use crate::mongo;

/// The cargo-deny release `test-all` installs (the GitHub workflow and README name it too).
pub const CARGO_DENY: &str = "cargo-deny@0.20.2";

/// Directories whose subdirectories are Node peers when they hold a `package-lock.json`
/// (`interop/*/`).
const NODE_PEER_PARENTS: &[&str] = &["interop"];

/// How to tell that a requirement is present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detect {
    /// One of these programs is on `PATH` (`command -v`).
    OnPath(&'static [&'static str]),
    /// `cargo <args>` exits 0.
    Cargo(&'static [&'static str]),
    /// `<program> <args>` exits 0.
    Runs(&'static str, &'static [&'static str]),
    /// The SecantusDB venv here holds the pinned release.
    Venv(PathBuf),
    /// `node_modules` in this directory exists and is not older than `package-lock.json`.
    NodeModules(PathBuf),
}

/// How to install a requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Install {
    /// A Debian package.
    Apt(&'static str),
    /// A rustup component.
    Rustup(&'static str),
    /// `cargo install --locked <spec>`.
    Cargo(&'static str),
    /// `python3 -m venv` + `pip install` of SecantusDB into this venv.
    Venv(PathBuf),
    /// `npm ci` in this directory.
    NpmCi(PathBuf),
}

/// One row of the table.
#[derive(Debug)]
pub struct Requirement {
    pub what: String,
    pub why: String,
    pub detect: Detect,
    pub install: Install,
}

fn row(
    what: impl Into<String>,
    why: impl Into<String>,
    detect: Detect,
    install: Install,
) -> Requirement {
    Requirement {
        what: what.into(),
        why: why.into(),
        detect,
        install,
    }
}

/// Everything `test-all` needs. `mongo_uri_set`: the Mongo tests use a given server, so no
/// SecantusDB venv (and no python3-venv) is needed.
pub fn requirements(root: &Path, target_dir: &Path, mongo_uri_set: bool) -> Vec<Requirement> {
    use Detect as D;
    use Install as I;
    let mut table = vec![
        row(
            "rustfmt",
            "`cargo fmt --check`",
            D::Cargo(&["fmt", "--version"]),
            I::Rustup("rustfmt"),
        ),
        row(
            "clippy",
            "`cargo clippy -- -D warnings`",
            D::Cargo(&["clippy", "--version"]),
            I::Rustup("clippy"),
        ),
        row(
            "cargo-deny",
            "the cargo-deny check (bans, licenses, sources)",
            D::Cargo(&["deny", "--version"]),
            I::Cargo(CARGO_DENY),
        ),
        row(
            "redis-server",
            "the store-redis tests: Redis on 6379, a 3-master Redis Cluster, a Sentinel deployment",
            D::OnPath(&["redis-server"]),
            I::Apt("redis-server"),
        ),
        row(
            "redis-cli",
            "forming the Redis Cluster (`redis-cli --cluster create`)",
            D::OnPath(&["redis-cli"]),
            I::Apt("redis-tools"),
        ),
        row(
            "chromium",
            "the examples' browser tests: headless Chromium",
            D::OnPath(&["chromium", "chromium-browser"]),
            I::Apt("chromium"),
        ),
        row(
            "chromedriver",
            "the examples' browser tests: they drive Chromium over WebDriver",
            D::OnPath(&["chromedriver"]),
            I::Apt("chromium-driver"),
        ),
    ];
    if !mongo_uri_set {
        let venv = mongo::venv_dir(target_dir);
        table.push(row(
            "python3 venv",
            "the MongoDB stand-in's venv (MONGO_URI is unset)",
            D::Runs("python3", &["-c", "import ensurepip, venv"]),
            I::Apt("python3-venv"),
        ));
        table.push(row(
            format!("SecantusDB {}", mongo::VERSION),
            "the store-mongo tests' server (MONGO_URI is unset)",
            D::Venv(venv.clone()),
            I::Venv(venv),
        ));
    }
    let peers = node_peers(root);
    if !peers.is_empty() {
        table.push(row(
            "npm",
            "installing the Node peers' packages",
            D::OnPath(&["npm"]),
            I::Apt("npm"),
        ));
    }
    for dir in peers {
        let shown = dir.strip_prefix(root).unwrap_or(&dir).display().to_string();
        table.push(row(
            format!("{shown}/node_modules"),
            format!("the Node peer in {shown}"),
            D::NodeModules(dir.clone()),
            I::NpmCi(dir),
        ));
    }
    table
}

/// Every `<parent>/<dir>/` holding a `package-lock.json`, for the parents in
/// [`NODE_PEER_PARENTS`], sorted.
pub fn node_peers(root: &Path) -> Vec<PathBuf> {
    let mut peers: Vec<PathBuf> = NODE_PEER_PARENTS
        .iter()
        .filter_map(|parent| fs::read_dir(root.join(parent)).ok())
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|dir| dir.join("package-lock.json").is_file())
        .collect();
    peers.sort();
    peers
}

/// `dir/node_modules` exists and is not older than `dir/package-lock.json`.
pub fn node_modules_fresh(dir: &Path) -> bool {
    let modified = |name: &str| fs::metadata(dir.join(name)).and_then(|m| m.modified()).ok();
    match (modified("node_modules"), modified("package-lock.json")) {
        (Some(modules), Some(lock)) => modules >= lock,
        _ => false,
    }
}

impl Detect {
    fn present(&self) -> bool {
        match self {
            Self::OnPath(names) => names.iter().any(|name| on_path(name)),
            Self::Cargo(args) => quietly_succeeds(&mut crate::cargo(args)),
            Self::Runs(program, args) => quietly_succeeds(Command::new(program).args(*args)),
            Self::Venv(venv) => mongo::venv_ready(venv),
            Self::NodeModules(dir) => node_modules_fresh(dir),
        }
    }

    /// Why the requirement counts as missing when [`Self::present`] is false.
    fn failed(&self) -> String {
        let quote = |a: &&str| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                (*a).to_owned()
            }
        };
        match self {
            Self::OnPath(names) => {
                let checks: Vec<String> = names.iter().map(|n| format!("command -v {n}")).collect();
                format!("`{}` fails", checks.join(" || "))
            }
            Self::Cargo(args) => format!("`cargo {}` fails", args.join(" ")),
            Self::Runs(program, args) => {
                let args: Vec<String> = args.iter().map(quote).collect();
                format!("`{program} {}` fails", args.join(" "))
            }
            Self::Venv(venv) => format!("{} lacks it", venv.display()),
            Self::NodeModules(_) => {
                "node_modules is missing or older than package-lock.json".into()
            }
        }
    }
}

/// What this machine allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    pub root: bool,
    pub apt_get: bool,
    pub rustup: bool,
    pub cargo: bool,
}

impl Host {
    fn probe() -> Self {
        Self {
            root: crate::pg_stats::is_root().unwrap_or(false),
            apt_get: on_path("apt-get"),
            rustup: on_path("rustup"),
            cargo: quietly_succeeds(&mut crate::cargo(&["--version"])),
        }
    }
}

/// One install step; [`plan`] orders them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `apt-get update`, then one `apt-get install` of these packages.
    Apt(Vec<&'static str>),
    /// `rustup component add` of these components.
    Rustup(Vec<&'static str>),
    /// `cargo install --locked <spec>`.
    Cargo(&'static str),
    /// The SecantusDB venv.
    Venv(PathBuf),
    /// `npm ci` in this directory.
    NpmCi(PathBuf),
}

const APT_UPDATE: &str = "apt-get update -q";

fn apt_install(packages: &[&str]) -> String {
    format!(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q {}",
        packages.join(" ")
    )
}

impl Step {
    /// The commands, as one would type them; `sudo` before the apt ones when not root.
    pub fn commands(&self, host: &Host) -> Vec<String> {
        let sudo = if host.root { "" } else { "sudo " };
        match self {
            Self::Apt(packages) => vec![
                format!("{sudo}{APT_UPDATE}"),
                format!("{sudo}{}", apt_install(packages)),
            ],
            Self::Rustup(components) => {
                vec![format!("rustup component add {}", components.join(" "))]
            }
            Self::Cargo(spec) => vec![format!("cargo install --locked {spec}")],
            Self::Venv(venv) => vec![format!(
                "python3 -m venv {0} && {0}/bin/python -m pip install secantusdb=={1}",
                venv.display(),
                mongo::VERSION
            )],
            Self::NpmCi(dir) => vec![format!("cd {} && npm ci", dir.display())],
        }
    }

    /// Why this step cannot run here, if it cannot.
    fn blocked(&self, host: &Host) -> Option<&'static str> {
        match self {
            Self::Apt(_) if !host.apt_get => {
                Some("apt-get is not available (install the equivalent packages by hand)")
            }
            Self::Apt(_) if !host.root => Some("installing Debian packages needs root"),
            Self::Rustup(_) if !host.rustup => Some("rustup is not on PATH (https://rustup.rs)"),
            Self::Cargo(_) if !host.cargo => Some("cargo is not on PATH"),
            _ => None,
        }
    }

    fn run(&self) -> Result<(), String> {
        match self {
            Self::Apt(packages) => {
                exec(
                    APT_UPDATE,
                    Command::new("apt-get").args(["update", "-q"]),
                    "is the Debian mirror reachable?",
                )?;
                exec(
                    &apt_install(packages),
                    Command::new("apt-get")
                        .args(["install", "-y", "-q"])
                        .args(packages)
                        .env("DEBIAN_FRONTEND", "noninteractive"),
                    "is the Debian mirror reachable?",
                )
            }
            Self::Rustup(components) => exec(
                &format!("rustup component add {}", components.join(" ")),
                Command::new("rustup")
                    .args(["component", "add"])
                    .args(components),
                "is static.rust-lang.org reachable?",
            ),
            Self::Cargo(spec) => exec(
                &format!("cargo install --locked {spec}"),
                &mut crate::cargo(&["install", "--locked", spec]),
                "is crates.io reachable?",
            ),
            Self::Venv(venv) => {
                eprintln!(
                    "xtask: setup: $ python3 -m venv {} + pip install",
                    venv.display()
                );
                mongo::ensure_venv(venv)
                    .map(drop)
                    .map_err(|e| format!("setup: {e}; is PyPI reachable? Nothing after it ran."))
            }
            Self::NpmCi(dir) => {
                exec(
                    &format!("cd {} && npm ci", dir.display()),
                    Command::new("npm").arg("ci").current_dir(dir),
                    "is the npm registry reachable?",
                )?;
                // A peer without dependencies gets no node_modules, and `npm ci` may leave
                // an existing one's time alone: mark it fresh so the next run skips it.
                let modules = dir.join("node_modules");
                fs::create_dir_all(&modules)
                    .and_then(|()| fs::File::open(&modules)?.set_modified(SystemTime::now()))
                    .map_err(|e| format!("setup: {}: {e}", modules.display()))
            }
        }
    }
}

/// The install steps for `missing`, in order (Debian packages first: npm ci and the venv
/// need them), or — when any of them cannot run on `host` — one message listing everything
/// missing and every command to run.
pub fn plan(missing: &[&Requirement], host: &Host) -> Result<Vec<Step>, String> {
    let mut apt = Vec::new();
    let mut rustup = Vec::new();
    let mut later = Vec::new();
    for requirement in missing {
        match &requirement.install {
            Install::Apt(package) if !apt.contains(package) => apt.push(*package),
            Install::Rustup(component) if !rustup.contains(component) => rustup.push(*component),
            Install::Apt(_) | Install::Rustup(_) => {}
            Install::Cargo(spec) => later.push(Step::Cargo(spec)),
            Install::Venv(venv) => later.push(Step::Venv(venv.clone())),
            Install::NpmCi(dir) => later.push(Step::NpmCi(dir.clone())),
        }
    }
    // cargo, then the venv, then npm ci (stable sort keeps the table's order within each).
    later.sort_by_key(|step| match step {
        Step::Cargo(_) => 0,
        Step::Venv(_) => 1,
        _ => 2,
    });
    let mut steps = Vec::new();
    if !apt.is_empty() {
        steps.push(Step::Apt(apt));
    }
    if !rustup.is_empty() {
        steps.push(Step::Rustup(rustup));
    }
    steps.extend(later);
    let mut reasons: Vec<&str> = steps.iter().filter_map(|s| s.blocked(host)).collect();
    if reasons.is_empty() {
        return Ok(steps);
    }
    reasons.dedup();
    let mut message = format!(
        "setup: cannot install what test-all needs here: {}.\nMissing:\n",
        reasons.join("; ")
    );
    for requirement in missing {
        message += &format!(
            "  {} — for {}; {}\n",
            requirement.what,
            requirement.why,
            requirement.detect.failed()
        );
    }
    message += "Run these, then run `cargo xtask test-all` again:\n";
    for command in steps.iter().flat_map(|s| s.commands(host)) {
        message += &format!("  {command}\n");
    }
    message.pop();
    Err(message)
}

/// Installs whatever of [`requirements`] is missing; nothing when all is present.
pub fn run() -> Result<(), String> {
    // Canonical, so that messages show /…/target rather than /…/xtask/../target.
    let canonical = |path: PathBuf| path.canonicalize().unwrap_or(path);
    let root = canonical(crate::workspace_root());
    let table = requirements(
        &root,
        &canonical(crate::services::target_dir()),
        std::env::var_os("MONGO_URI").is_some(),
    );
    let missing: Vec<&Requirement> = table.iter().filter(|r| !r.detect.present()).collect();
    if missing.is_empty() {
        eprintln!("xtask: setup: all {} requirements present", table.len());
        return Ok(());
    }
    let host = Host::probe();
    let steps = plan(&missing, &host)?;
    for requirement in &missing {
        eprintln!(
            "xtask: setup: installing {} — for {}; {}",
            requirement.what,
            requirement.why,
            requirement.detect.failed()
        );
    }
    for step in &steps {
        step.run()?;
    }
    let still: Vec<&str> = missing
        .iter()
        .filter(|r| !r.detect.present())
        .map(|r| r.what.as_str())
        .collect();
    if !still.is_empty() {
        return Err(format!(
            "setup: still missing after installing: {}",
            still.join(", ")
        ));
    }
    eprintln!("xtask: setup: installed {} requirement(s)", missing.len());
    Ok(())
}

/// Runs `command` (shown as `shown`) with the terminal; a failure names it.
fn exec(shown: &str, command: &mut Command, hint: &str) -> Result<(), String> {
    eprintln!("xtask: setup: $ {shown}");
    let status = command
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("setup: `{shown}` could not start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "setup: `{shown}` failed ({status}); {hint} Nothing after it ran."
        ))
    }
}

fn quietly_succeeds(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `command -v name`: an executable file of that name in a `PATH` directory.
fn on_path(name: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| is_executable(&dir.join(name)))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const ROOT: Host = Host {
        root: true,
        apt_get: true,
        rustup: true,
        cargo: true,
    };
    const USER: Host = Host {
        root: false,
        ..ROOT
    };

    /// A fresh, empty directory under the system temp dir.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-setup-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn table() -> Vec<Requirement> {
        requirements(Path::new("/nonexistent"), Path::new("/t"), false)
    }

    fn find<'a>(table: &'a [Requirement], what: &str) -> &'a Requirement {
        table.iter().find(|r| r.what == what).unwrap()
    }

    #[test]
    fn the_table_names_each_tool_and_how_to_install_it() {
        let table = table();
        let install = |what| find(&table, what).install.clone();
        assert_eq!(install("chromium"), Install::Apt("chromium"));
        assert_eq!(install("chromedriver"), Install::Apt("chromium-driver"));
        assert_eq!(install("redis-server"), Install::Apt("redis-server"));
        assert_eq!(install("redis-cli"), Install::Apt("redis-tools"));
        assert_eq!(install("python3 venv"), Install::Apt("python3-venv"));
        assert_eq!(install("cargo-deny"), Install::Cargo("cargo-deny@0.20.2"));
        assert_eq!(install("rustfmt"), Install::Rustup("rustfmt"));
        assert_eq!(install("clippy"), Install::Rustup("clippy"));
        assert_eq!(
            find(&table, "chromium").detect,
            Detect::OnPath(&["chromium", "chromium-browser"])
        );
        assert_eq!(
            find(&table, "cargo-deny").detect,
            Detect::Cargo(&["deny", "--version"])
        );
        // venv --help works without Debian's python3-venv; only ensurepip tells.
        assert_eq!(
            find(&table, "python3 venv").detect.failed(),
            "`python3 -c 'import ensurepip, venv'` fails"
        );
        let venv = Path::new("/t/secantus-venv").to_path_buf();
        assert_eq!(
            find(&table, "SecantusDB 0.7.0b3").install,
            Install::Venv(venv)
        );
        let mut names: Vec<&str> = table.iter().map(|r| r.what.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), table.len(), "names are unique");
        // No Node peer here: no npm either.
        assert!(table.iter().all(|r| r.what != "npm"));
    }

    #[test]
    fn a_given_mongo_uri_needs_no_venv() {
        let table = requirements(Path::new("/nonexistent"), Path::new("/t"), true);
        assert!(
            table
                .iter()
                .all(|r| !matches!(r.install, Install::Venv(_) | Install::Apt("python3-venv")))
        );
    }

    #[test]
    fn the_workflow_and_readme_name_the_same_cargo_deny() {
        let workflow = include_str!("../../.github/workflows/ci.yml");
        assert!(workflow.contains(CARGO_DENY), "{CARGO_DENY} not in ci.yml");
        let readme = include_str!("../../README.md").replace('\n', " ");
        assert!(readme.contains(CARGO_DENY), "{CARGO_DENY} not in README.md");
    }

    #[test]
    fn nothing_missing_plans_nothing() {
        assert_eq!(plan(&[], &USER), Ok(vec![]));
    }

    #[test]
    fn as_root_missing_packages_are_one_apt_install_after_one_update() {
        let table = table();
        let missing = [
            find(&table, "cargo-deny"),
            find(&table, "chromium"),
            find(&table, "chromedriver"),
            find(&table, "clippy"),
        ];
        let steps = plan(&missing, &ROOT).unwrap();
        assert_eq!(
            steps,
            vec![
                Step::Apt(vec!["chromium", "chromium-driver"]),
                Step::Rustup(vec!["clippy"]),
                Step::Cargo(CARGO_DENY),
            ]
        );
        assert_eq!(
            steps[0].commands(&ROOT),
            [
                "apt-get update -q",
                "DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver"
            ]
        );
    }

    #[test]
    fn not_root_and_a_package_missing_is_one_message_naming_every_command() {
        let table = table();
        let missing = [
            find(&table, "cargo-deny"),
            find(&table, "chromium"),
            find(&table, "chromedriver"),
        ];
        let message = plan(&missing, &USER).unwrap_err();
        assert_eq!(
            message,
            "setup: cannot install what test-all needs here: installing Debian packages needs root.
Missing:
  cargo-deny — for the cargo-deny check (bans, licenses, sources); `cargo deny --version` fails
  chromium — for the examples' browser tests: headless Chromium; `command -v chromium || command -v chromium-browser` fails
  chromedriver — for the examples' browser tests: they drive Chromium over WebDriver; `command -v chromedriver` fails
Run these, then run `cargo xtask test-all` again:
  sudo apt-get update -q
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver
  cargo install --locked cargo-deny@0.20.2"
        );
    }

    #[test]
    fn not_root_can_still_install_what_needs_no_root() {
        let table = table();
        let missing = [find(&table, "cargo-deny"), find(&table, "rustfmt")];
        assert_eq!(
            plan(&missing, &USER),
            Ok(vec![Step::Rustup(vec!["rustfmt"]), Step::Cargo(CARGO_DENY)])
        );
    }

    #[test]
    fn no_apt_get_or_no_rustup_is_reported_up_front() {
        let table = table();
        let missing = [find(&table, "redis-server"), find(&table, "rustfmt")];
        let host = Host {
            apt_get: false,
            rustup: false,
            ..ROOT
        };
        let message = plan(&missing, &host).unwrap_err();
        assert!(message.contains("apt-get is not available"), "{message}");
        assert!(message.contains("rustup is not on PATH"), "{message}");
        assert!(
            message.contains("\n  rustup component add rustfmt"),
            "{message}"
        );
    }

    #[test]
    fn node_peers_are_the_interop_dirs_with_a_lock_and_npm_comes_first() {
        let root = scratch("peers");
        for dir in ["interop/express", "interop/koa", "interop/notes"] {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        for dir in ["interop/koa", "interop/express"] {
            fs::write(root.join(dir).join("package-lock.json"), "{}").unwrap();
        }
        let express = root.join("interop/express");
        let koa = root.join("interop/koa");
        assert_eq!(node_peers(&root), [express.clone(), koa.clone()]);

        let table = requirements(&root, Path::new("/t"), true);
        assert_eq!(find(&table, "npm").install, Install::Apt("npm"));
        assert_eq!(
            find(&table, "interop/koa/node_modules").install,
            Install::NpmCi(koa.clone())
        );
        let missing: Vec<&Requirement> = [
            "interop/koa/node_modules",
            "npm",
            "interop/express/node_modules",
        ]
        .iter()
        .map(|what| find(&table, what))
        .collect();
        assert_eq!(
            plan(&missing, &ROOT),
            Ok(vec![
                Step::Apt(vec!["npm"]),
                Step::NpmCi(koa),
                Step::NpmCi(express),
            ])
        );
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn node_modules_missing_or_older_than_the_lock_is_stale() {
        let dir = scratch("stale");
        let lock = dir.join("package-lock.json");
        fs::write(&lock, "{}").unwrap();
        assert!(!node_modules_fresh(&dir), "no node_modules");
        let modules = dir.join("node_modules");
        fs::create_dir(&modules).unwrap();
        let now = SystemTime::now();
        let set = |path: &Path, time| fs::File::open(path).unwrap().set_modified(time).unwrap();
        set(&lock, now);
        set(&modules, now - Duration::from_secs(60));
        assert!(!node_modules_fresh(&dir), "older than the lock");
        set(&modules, now + Duration::from_secs(1));
        assert!(node_modules_fresh(&dir), "newer than the lock");
        fs::remove_dir_all(dir).unwrap();
    }
}
