//! Instruction counts from `valgrind --tool=callgrind`: the program's total `Ir` (the
//! `Collected :` line callgrind prints), and the functions that cost the most in a kept
//! profile (`callgrind_annotate`), grouped by crate.

use std::{path::Path, process::Command};

use serde::{Deserialize, Serialize};

/// Any failure running valgrind or reading its output.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Runs `program args` under callgrind; returns the instructions it executed. The profile
/// goes to `out` (kept for [`top_functions`]).
pub fn instructions(program: &Path, args: &[String], out: &Path) -> Result<u64, Error> {
    let output = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(program)
        .args(args)
        .output()
        .map_err(|e| format!("valgrind: {e} (install it: apt-get install valgrind)"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("valgrind {args:?}: {}: {stderr}", output.status).into());
    }
    collected(&stderr)
        .ok_or_else(|| format!("valgrind {args:?}: no `Collected :` line in {stderr}").into())
}

/// The count on callgrind's `==pid== Collected : 123456` line.
fn collected(stderr: &str) -> Option<u64> {
    stderr
        .lines()
        .find_map(|l| {
            l.split_once("Collected :")
                .map(|(_, n)| n.trim().to_owned())
        })?
        .parse()
        .ok()
}

/// One function of a profile and its share.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FunctionCost {
    /// The demangled name (or a crate name, in [`by_crate`] results).
    pub name: String,
    /// Instructions in it (self cost).
    pub instructions: u64,
    /// Share of the profile's total, 0..=1.
    pub share: f64,
}

/// The self cost of every function of the profile at `file` (`callgrind_annotate`), most
/// expensive first.
pub fn functions(file: &Path) -> Result<Vec<FunctionCost>, Error> {
    let output = Command::new("callgrind_annotate")
        .args(["--threshold=100", "--auto=no"])
        .arg(file)
        .output()
        .map_err(|e| format!("callgrind_annotate: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "callgrind_annotate {}: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(parse_annotate(&String::from_utf8_lossy(&output.stdout)))
}

/// Lines like `1,234,567 (12.34%)  file.rs:crate::f [/path/bin]`, after the total line.
fn parse_annotate(text: &str) -> Vec<FunctionCost> {
    let mut total = None;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let Some((count, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(count) = count.replace(',', "").parse::<u64>() else {
            continue;
        };
        let rest = rest.trim();
        if rest.starts_with("(100.0%)") && rest.contains("PROGRAM TOTALS") {
            total = Some(count);
            continue;
        }
        let Some(total) = total.filter(|t| *t > 0) else {
            continue;
        };
        let name = rest.split_once(')').map_or(rest, |(_, name)| name).trim();
        let name = name.split(" [").next().unwrap_or(name);
        let name = name.split_once(':').map_or(
            name,
            |(file, f)| {
                if file.contains("::") { name } else { f }
            },
        );
        out.push(FunctionCost {
            name: name.to_owned(),
            instructions: count,
            share: count as f64 / total as f64,
        });
    }
    out
}

/// The crate a demangled Rust symbol belongs to (`<a::B as c::D>::f` → `a`), or a coarse
/// group for C code (`libc/malloc`).
pub fn crate_of(symbol: &str) -> String {
    let s = symbol
        .trim_start_matches(['<', '&', '*', ' '])
        .trim_start_matches("mut ");
    let s = s.trim_start_matches("dyn ");
    match s.split_once("::") {
        Some((krate, _)) if !krate.is_empty() && !krate.contains(' ') => krate.to_owned(),
        _ if s.contains("malloc") || s.contains("free") || s.contains("realloc") => {
            "malloc/free (libc)".to_owned()
        }
        _ if s.starts_with("mem") || s.starts_with("__mem") || s.starts_with("str") => {
            "libc mem*/str*".to_owned()
        }
        _ => "other".to_owned(),
    }
}

/// `functions` summed by [`crate_of`], most expensive first.
pub fn by_crate(functions: &[FunctionCost]) -> Vec<FunctionCost> {
    let mut groups: Vec<FunctionCost> = Vec::new();
    for f in functions {
        let krate = crate_of(&f.name);
        match groups.iter_mut().find(|g| g.name == krate) {
            Some(g) => {
                g.instructions += f.instructions;
                g.share += f.share;
            }
            None => groups.push(FunctionCost {
                name: krate,
                instructions: f.instructions,
                share: f.share,
            }),
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.instructions));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_collected_line_is_the_total() {
        let stderr = "==12== Events    : Ir\n==12== Collected : 123456789\n==12==\n";
        assert_eq!(collected(stderr), Some(123_456_789));
        assert_eq!(collected("nothing"), None);
    }

    #[test]
    fn annotate_lines_become_functions_and_crates() {
        let text = "\
--------------------------------------------------------------------------------
Ir
--------------------------------------------------------------------------------
1,000 (100.0%)  PROGRAM TOTALS

--------------------------------------------------------------------------------
Ir           file:function
--------------------------------------------------------------------------------
500 (50.00%)  ./malloc/malloc.c:_int_malloc [/usr/lib/libc.so.6]
300 (30.00%)  src/x.rs:<actix_http::h1::Dispatcher<T> as core::future::Future>::poll [/bin/x]
200 (20.00%)  ???:sha2::sha256::compress256 [/bin/x]
";
        let functions = parse_annotate(text);
        assert_eq!(functions.len(), 3);
        assert_eq!(
            functions[1].name,
            "<actix_http::h1::Dispatcher<T> as core::future::Future>::poll"
        );
        assert!((functions[1].share - 0.3).abs() < 1e-9);
        let crates = by_crate(&functions);
        assert_eq!(crates[0].name, "malloc/free (libc)");
        assert_eq!(crate_of(&functions[1].name), "actix_http");
        assert_eq!(crate_of(&functions[2].name), "sha2");
    }
}
