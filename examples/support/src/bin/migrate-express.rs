//! `migrate-express`: moves the sessions of a connect-redis, connect-pg-simple or
//! connect-mongo store into the native layout, once the Node app is switched off, so the
//! Rust app can run with `SESSION_COMPAT=express-migrated` (the `connect.sid` cookies keep
//! working; ids are hashed at rest again). One-shot and resumable: run it again after an
//! interruption; sessions already copied are skipped. See examples/README.md,
//! "Migrating from Express".
//!
//! ```text
//! migrate-express --from <connect-* store URL> --to <native store URL> [--delete-source] [--max <n>] [--timeout-ms <ms>]
//! ```
//!
//! `SESSION_EXPRESS_PREFIX`, `SESSION_EXPRESS_TABLE` and `SESSION_EXPRESS_COLLECTION` name
//! the source as for the apps. `--max <n>` stops after the page that reaches `n` sessions
//! seen (a run in slices; the next run resumes). `--timeout-ms` bounds each store
//! operation (default: the stores' own, 4 s).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use example_support::compat::{ExpressNames, open_express};
use example_support::{StoreUrl, connect_with};
use session_core::express::{ExpressFormat, MigrationOptions, MigrationReport, migrate_to_native};
use session_core::store::SessionStore;

const USAGE: &str = "usage: migrate-express --from <connect-* store URL> --to <native store URL> [--delete-source] [--max <n>] [--timeout-ms <ms>]";

struct Args {
    from: StoreUrl,
    to: StoreUrl,
    delete_source: bool,
    max: Option<u64>,
    timeout: Option<std::time::Duration>,
}

fn args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut from, mut to, mut delete_source, mut max) = (None, None, false, None);
    let mut timeout = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--from" => from = args.next(),
            "--to" => to = args.next(),
            "--delete-source" => delete_source = true,
            "--max" => {
                let n = args.next().ok_or(USAGE)?;
                max = Some(
                    n.parse()
                        .map_err(|_| format!("--max {n:?}: not a number"))?,
                );
            }
            "--timeout-ms" => {
                let n = args.next().ok_or(USAGE)?;
                let ms = n
                    .parse()
                    .map_err(|_| format!("--timeout-ms {n:?}: not a number"))?;
                timeout = Some(std::time::Duration::from_millis(ms));
            }
            _ => return Err(USAGE.into()),
        }
    }
    let parse = |url: Option<String>, what: &str| {
        StoreUrl::parse(&url.ok_or(USAGE)?).map_err(|e| format!("{what}: {e}"))
    };
    Ok(Args {
        from: parse(from, "--from")?,
        to: parse(to, "--to")?,
        delete_source,
        max,
        timeout,
    })
}

async fn run(args: Args) -> Result<MigrationReport, String> {
    let names =
        ExpressNames::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
    #[cfg(feature = "mongo")]
    if let (StoreUrl::Mongo(a), StoreUrl::Mongo(b)) = (&args.from, &args.to) {
        let same_db = a.split('?').next() == b.split('?').next();
        if same_db && names.mongo_collection == store_mongo::DEFAULT_COLLECTION {
            return Err(format!(
                "--from and --to are one MongoDB database, and both layouts use its `{}` \
                 collection: migrate into another database (or set SESSION_EXPRESS_COLLECTION)",
                store_mongo::DEFAULT_COLLECTION
            ));
        }
    }
    let from = open_express(&args.from, &names, ExpressFormat::default(), args.timeout)
        .await
        .map_err(|e| format!("--from {}: {e}", args.from))?;
    let to: Arc<dyn SessionStore> = connect_with(&args.to, args.timeout)
        .await
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let options = MigrationOptions {
        delete_source: args.delete_source,
        stop_after: args.max,
    };
    let report = migrate_to_native(from, to, options, |r| {
        eprintln!(
            "migrate-express: {} seen, {} copied, {} already there, {} gone, {} unreadable",
            r.seen, r.copied, r.already, r.gone, r.corrupt
        );
    })
    .await
    .map_err(|e| format!("stopped (run again to resume): {e}"))?;
    println!(
        "migrated: seen={} copied={} already={} gone={} corrupt={} deleted={} in {:.1?}",
        report.seen,
        report.copied,
        report.already,
        report.gone,
        report.corrupt,
        report.deleted,
        started.elapsed()
    );
    Ok(report)
}

#[tokio::main]
async fn main() -> ExitCode {
    example_support::telemetry::init();
    let result = match args() {
        Ok(args) => run(args).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("migrate-express: {e}");
            ExitCode::from(2)
        }
    }
}
