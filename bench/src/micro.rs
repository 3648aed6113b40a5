//! Store micro-benchmark results (criterion's estimates from `benches/stores.rs`) and
//! their markdown table.
//!
//! The benchmark writes `<criterion dir>/<backend>/<op>/<ours|raw>/new/estimates.json`
//! (criterion group = backend, `BenchmarkId::new(op, "ours" | "raw")`); [`collect`] reads
//! the mean of each and [`markdown`] renders ours next to the raw driver.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The backends, in table order (the criterion group names).
pub const BACKENDS: [&str; 5] = ["memory", "sqlite", "postgres", "redis", "mongo"];

/// The operations, in table order (the criterion function names).
pub const OPS: [&str; 4] = ["load", "apply", "create", "touch"];

/// One line of the table: one operation on one backend, ours next to the raw driver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MicroRow {
    /// The backend (criterion group): `memory`, `sqlite`, `postgres`, `redis` or `mongo`.
    pub backend: String,
    /// The operation: `load`, `apply`, `create` or `touch`.
    pub op: String,
    /// Mean time of one operation of our store, in nanoseconds.
    pub ours_ns: f64,
    /// Mean time of the raw driver's equivalent operation, in nanoseconds, if measured.
    pub raw_ns: Option<f64>,
}

/// Reads the results under `criterion_dir` (usually `target/criterion`) for every backend
/// and operation, in the fixed order of [`BACKENDS`] × [`OPS`].
///
/// A combination whose `ours` estimate does not exist is left out (that backend or
/// operation was not run); a missing `raw` estimate gives `raw_ns: None`. A file that
/// exists but cannot be read, is not JSON, or has no numeric `mean.point_estimate` is an
/// error naming its path.
pub fn collect(criterion_dir: &Path) -> Result<Vec<MicroRow>, String> {
    let mut rows = Vec::new();
    for backend in BACKENDS {
        for op in OPS {
            let Some(ours_ns) = mean_ns(criterion_dir, backend, op, "ours")? else {
                continue;
            };
            rows.push(MicroRow {
                backend: backend.to_owned(),
                op: op.to_owned(),
                ours_ns,
                raw_ns: mean_ns(criterion_dir, backend, op, "raw")?,
            });
        }
    }
    Ok(rows)
}

/// `mean.point_estimate` of one benchmark's `new/estimates.json`; `None` if there is no
/// such file.
fn mean_ns(dir: &Path, backend: &str, op: &str, side: &str) -> Result<Option<f64>, String> {
    let path = dir
        .join(backend)
        .join(op)
        .join(side)
        .join("new")
        .join("estimates.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let estimates: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    estimates
        .pointer("/mean/point_estimate")
        .and_then(Value::as_f64)
        .map(Some)
        .ok_or_else(|| {
            format!(
                "{}: no numeric mean.point_estimate in criterion's estimates",
                path.display()
            )
        })
}

/// The table of `rows`: `| backend | operation | ours µs | raw driver µs | ours − raw µs |
/// ours/raw |`, times in microseconds (2 decimals below 100 µs, 1 above), the ratio with 2
/// decimals; cells without a raw measurement show `—`.
pub fn markdown(rows: &[MicroRow]) -> String {
    let mut out = String::from(
        "| backend | operation | ours µs | raw driver µs | ours − raw µs | ours/raw |\n\
         |---|---|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let ours = row.ours_ns / 1000.0;
        let (raw, diff, ratio) = match row.raw_ns {
            Some(raw_ns) => (
                micros(raw_ns / 1000.0),
                micros(ours - raw_ns / 1000.0),
                if raw_ns > 0.0 {
                    format!("{:.2}", row.ours_ns / raw_ns)
                } else {
                    "—".to_owned()
                },
            ),
            None => ("—".to_owned(), "—".to_owned(), "—".to_owned()),
        };
        // Writing into a String cannot fail.
        let _ = writeln!(
            out,
            "| {} | {} | {} | {raw} | {diff} | {ratio} |",
            row.backend,
            row.op,
            micros(ours)
        );
    }
    out
}

/// Microseconds with 2 decimals below 100 µs, 1 decimal from there.
fn micros(us: f64) -> String {
    if us.abs() < 100.0 {
        format!("{us:.2}")
    } else {
        format!("{us:.1}")
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "session-bench-micro-test-{name}-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create temp dir");
            Self(dir)
        }

        fn write(&self, backend: &str, op: &str, side: &str, contents: &str) {
            let dir = self.0.join(backend).join(op).join(side).join("new");
            std::fs::create_dir_all(&dir).expect("create fixture dir");
            std::fs::write(dir.join("estimates.json"), contents).expect("write fixture");
        }

        fn estimate(&self, backend: &str, op: &str, side: &str, mean_ns: f64) {
            // The shape criterion writes, trimmed to what matters plus a neighbour.
            let json = format!(
                r#"{{"mean":{{"confidence_interval":{{"confidence_level":0.95,
                "lower_bound":1.0,"upper_bound":2.0}},"point_estimate":{mean_ns},
                "standard_error":0.5}},"median":{{"point_estimate":1.0}}}}"#
            );
            self.write(backend, op, side, &json);
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn row(backend: &str, op: &str, ours_ns: f64, raw_ns: Option<f64>) -> MicroRow {
        MicroRow {
            backend: backend.into(),
            op: op.into(),
            ours_ns,
            raw_ns,
        }
    }

    #[test]
    fn collects_in_fixed_order_and_renders_the_table() {
        let dir = TempDir::new("ok");
        // Written out of order; sqlite/load has no raw side; postgres/touch no ours side.
        dir.estimate("redis", "touch", "ours", 61_000.0);
        dir.estimate("redis", "touch", "raw", 48_800.0);
        dir.estimate("memory", "load", "ours", 412.5);
        dir.estimate("memory", "load", "raw", 150.0);
        dir.estimate("sqlite", "load", "ours", 12_346.0);
        dir.estimate("postgres", "touch", "raw", 1.0);
        dir.estimate("memory", "apply", "ours", 1_234_567.0);
        dir.estimate("memory", "apply", "raw", 1_000_000.0);

        let rows = collect(&dir.0).expect("collect");
        assert_eq!(
            rows,
            vec![
                row("memory", "load", 412.5, Some(150.0)),
                row("memory", "apply", 1_234_567.0, Some(1_000_000.0)),
                row("sqlite", "load", 12_346.0, None),
                row("redis", "touch", 61_000.0, Some(48_800.0)),
            ]
        );

        let table = markdown(&rows);
        let expected = "\
| backend | operation | ours µs | raw driver µs | ours − raw µs | ours/raw |
|---|---|---:|---:|---:|---:|
| memory | load | 0.41 | 0.15 | 0.26 | 2.75 |
| memory | apply | 1234.6 | 1000.0 | 234.6 | 1.23 |
| sqlite | load | 12.35 | — | — | — |
| redis | touch | 61.00 | 48.80 | 12.20 | 1.25 |
";
        assert_eq!(table, expected);
    }

    #[test]
    fn an_empty_tree_gives_no_rows_and_a_header_only_table() {
        let dir = TempDir::new("empty");
        let rows = collect(&dir.0).expect("collect");
        assert!(rows.is_empty());
        assert_eq!(markdown(&rows).lines().count(), 2);
    }

    #[test]
    fn faster_than_raw_shows_a_negative_difference() {
        let table = markdown(&[row("mongo", "create", 90_000.0, Some(120_000.0))]);
        assert!(table.ends_with("| mongo | create | 90.00 | 120.0 | -30.00 | 0.75 |\n"));
    }

    #[test]
    fn malformed_files_are_errors_naming_the_path() {
        let dir = TempDir::new("bad-json");
        dir.write("postgres", "apply", "ours", "{ not json");
        let err = collect(&dir.0).expect_err("malformed JSON must fail");
        assert!(
            err.contains(&format!(
                "postgres{0}apply{0}ours",
                std::path::MAIN_SEPARATOR
            )),
            "{err}"
        );

        let dir = TempDir::new("no-mean");
        dir.estimate("memory", "load", "ours", 1.0);
        dir.write(
            "memory",
            "load",
            "raw",
            r#"{"median":{"point_estimate":1.0}}"#,
        );
        let err = collect(&dir.0).expect_err("missing mean must fail");
        assert!(err.contains("estimates.json"), "{err}");
        assert!(err.contains("mean.point_estimate"), "{err}");

        let dir = TempDir::new("not-number");
        dir.write(
            "mongo",
            "touch",
            "ours",
            r#"{"mean":{"point_estimate":"fast"}}"#,
        );
        assert!(collect(&dir.0).is_err());
    }
}
