//! One stack of the HTTP benchmarks in a process of its own, so the load (from `http_load` or
//! `scale_curves`, other processes) never shares its runtime and its CPU time can be read from
//! `/proc/<pid>/stat`.
//!
//! `bench_server --backend memory|sqlite|postgres|redis|actix --side ours|peer|bare
//! [--pg-app-name NAME]`. Prints `listening <addr>` on stdout once it accepts connections and
//! serves until its stdin closes (the parent exiting closes it too). `REDIS_URL` and
//! `POSTGRES_URL` default to the local servers.

use session_bench::stacks::{self, Side};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut backend = None;
    let mut side = None;
    let mut pg_app_name = "session-bench".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--backend" => backend = Some(value),
            "--side" => side = Some(value.parse::<Side>()?),
            "--pg-app-name" => pg_app_name = value,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let backend = backend.ok_or("--backend is required")?;
    let side = side.ok_or("--side is required")?;
    let served = stacks::serve(&backend, side, &pg_app_name).await?;
    println!("listening {}", served.addr());
    // Serve until the parent closes our stdin (or exits), on a thread of its own: the
    // runtime's workers stay free for requests.
    let (closed, wait) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        let _ = closed.send(());
    });
    let _ = wait.await;
    drop(served);
    let scratch = std::env::temp_dir().join(format!(
        "session-bench-{}-{}",
        side.name(),
        std::process::id()
    ));
    if scratch.exists() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    Ok(())
}
