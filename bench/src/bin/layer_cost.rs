//! Instructions per request of the session layer alone: N requests through each stack's
//! service in-process (no network, one thread), counted by `valgrind --tool=callgrind` at two
//! values of N, the difference divided by the difference of N so start-up cost cancels.
//! Stacks: bare axum, ours (`adapter-axum` + `MemoryStore`), tower-sessions (its
//! `MemoryStore`), bare actix-web and ours on actix-web; workloads (a)–(e). The actix and axum
//! stacks on (a), (c) and (d) also get a per-crate profile (`callgrind_annotate`, the same
//! difference).
//!
//! `cargo run --release --manifest-path bench/Cargo.toml --bin layer_cost -- [--n 500,1500]
//! [--workloads abcde] [--jobs 2] [--out target/bench-results/layer_cost.json]`. Needs
//! valgrind on PATH. `layer_cost --child STACK WORKLOAD N` is one counted run.

use std::{
    path::{Path, PathBuf},
    sync::Mutex,
};

use session_bench::{
    callgrind,
    in_process::{self, STACKS},
    layer_cost::{self, CostRow, LayerCost, Profile},
    report,
};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The stacks and workloads that get a per-crate profile.
const PROFILED: [&str; 4] = ["axum-bare", "axum-ours", "actix-bare", "actix-ours"];
const PROFILED_WORKLOADS: [char; 3] = ['a', 'c', 'd'];

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        let [_, stack, workload, n] = args.as_slice() else {
            return Err("usage: layer_cost --child STACK WORKLOAD N".into());
        };
        let workload = workload.chars().next().ok_or("empty workload")?;
        return in_process::run(stack, workload, n.parse()?);
    }
    let mut n = (500_usize, 1500_usize);
    let mut workloads = "abcde".to_owned();
    let mut jobs = 2_usize;
    let mut out = PathBuf::from("target/bench-results/layer_cost.json");
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let value = it.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--n" => {
                let (a, b) = value.split_once(',').ok_or("--n takes N1,N2")?;
                n = (a.parse()?, b.parse()?);
            }
            "--workloads" => workloads = value,
            "--jobs" => jobs = value.parse::<usize>()?.max(1),
            "--out" => out = PathBuf::from(value),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if n.1 <= n.0 {
        return Err("--n: the second count must be larger".into());
    }
    let exe = std::env::current_exe()?;
    let scratch = std::env::temp_dir().join(format!("layer-cost-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let mut todo = Vec::new();
    for stack in STACKS {
        for letter in workloads.chars() {
            for count in [n.0, n.1] {
                todo.push((stack, letter, count));
            }
        }
    }
    let total = todo.len();
    let queue = Mutex::new(todo);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let Some((stack, letter, count)) = queue.lock().ok().and_then(|mut q| q.pop())
                    else {
                        return;
                    };
                    let file = profile_path(&scratch, stack, letter, count);
                    let args = [
                        "--child".to_owned(),
                        stack.to_owned(),
                        letter.to_string(),
                        count.to_string(),
                    ];
                    let result = callgrind::instructions(&exe, &args, &file);
                    if let Ok(mut results) = results.lock() {
                        eprintln!(
                            "layer_cost: {stack} ({letter}) × {count}: {result:?} [{}/{total}]",
                            results.len() + 1
                        );
                        results.push(((stack, letter, count), result.map_err(|e| e.to_string())));
                    }
                }
            });
        }
    });
    let results = results
        .into_inner()
        .map_err(|_| "a callgrind worker panicked")?;
    let count_of = |stack: &str, letter: char, count: usize| -> Result<u64, Error> {
        match results
            .iter()
            .find(|((s, l, c), _)| *s == stack && *l == letter && *c == count)
        {
            Some((_, Ok(ir))) => Ok(*ir),
            Some((_, Err(e))) => Err(e.clone().into()),
            None => Err(format!("{stack} ({letter}) × {count} did not run").into()),
        }
    };
    let mut rows = Vec::new();
    for stack in STACKS {
        for letter in workloads.chars() {
            let small = count_of(stack, letter, n.0)?;
            let big = count_of(stack, letter, n.1)?;
            let sha = |count| callgrind::functions(&profile_path(&scratch, stack, letter, count));
            let software_sha256 = layer_cost::difference(&sha(n.0)?, &sha(n.1)?, n.1 - n.0)
                .iter()
                .filter(|f| f.name.contains(layer_cost::SOFTWARE_SHA256))
                // A fold from +0.0: `sum` of nothing is -0.0, which the JSON would show.
                .fold(0.0, |total, f| total + f.instructions as f64);
            rows.push(CostRow {
                stack: stack.to_owned(),
                workload: letter,
                per_request: (big as f64 - small as f64) / (n.1 - n.0) as f64,
                software_sha256,
            });
        }
    }
    let mut profiles = Vec::new();
    for letter in PROFILED_WORKLOADS
        .into_iter()
        .filter(|l| workloads.contains(*l))
    {
        for stack in PROFILED {
            let small = callgrind::functions(&profile_path(&scratch, stack, letter, n.0))?;
            let big = callgrind::functions(&profile_path(&scratch, stack, letter, n.1))?;
            let functions = layer_cost::difference(&small, &big, n.1 - n.0);
            let crates = layer_cost::difference(
                &callgrind::by_crate(&small),
                &callgrind::by_crate(&big),
                n.1 - n.0,
            );
            profiles.push(Profile {
                stack: stack.to_owned(),
                workload: letter,
                crates,
                functions: functions.into_iter().take(25).collect(),
            });
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let cost = LayerCost { n, rows, profiles };
    println!("{}", layer_cost::markdown(&cost));
    report::write_json(&out, &cost)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

fn profile_path(dir: &Path, stack: &str, letter: char, count: usize) -> PathBuf {
    dir.join(format!("{stack}-{letter}-{count}.out"))
}
