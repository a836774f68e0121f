//! How perfstack's benches report their figures.
//!
//! A bench measures a figure *and* its baseline in the same run, then calls [`record`] with a
//! [`Figure`] that names both. A value is either a number the bench computed itself (a
//! simulation's goodput, a count of loader calls) or the id of a criterion benchmark
//! (`group/function`), whose median time `scripts/bench.sh` reads from criterion's output after
//! the run. The `bench-report` binary then turns every recorded figure into
//! `docs/benchmarks.md` and `target/perfstack-bench/summary.json`.
//!
//! A bench may also leave a markdown section (a table, a plot link) for its crate with
//! [`write_section`]; it is printed under the crate's table.
//!
//! # Examples
//!
//! ```no_run
//! use perfstack_benches::{record, Figure, Goal, Measure};
//!
//! record(&Figure {
//!     krate: "resilience".into(),
//!     figure: "closed breaker call".into(),
//!     unit: "ns".into(),
//!     value: Measure::Criterion("breaker/closed".into()),
//!     baseline: Some(Measure::Criterion("breaker/bare".into())),
//!     goal: Goal::AtMost(50.0),
//!     note: "value minus baseline is the overhead".into(),
//! });
//! ```

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub mod render;

/// Where a figure's number comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// A number the bench computed itself, in the figure's unit.
    Value(f64),
    /// The median time per iteration (ns) of a criterion benchmark, by id `group/function`.
    Criterion(String),
    /// A throughput derived from a criterion benchmark: `elements` per iteration divided by the
    /// median time per iteration, in elements per second.
    CriterionRate {
        /// Criterion id `group/function`.
        id: String,
        /// How many operations one iteration performs.
        elements: u64,
    },
    /// The median time per iteration of a criterion benchmark minus that of another one (ns):
    /// the overhead a wrapper adds to a bare call.
    CriterionOverhead {
        /// The wrapped call.
        id: String,
        /// The bare call it wraps.
        bare: String,
    },
}

/// What the figure should show, checked by `bench-report`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// value / baseline ≤ x.
    RatioAtMost(f64),
    /// value / baseline ≥ x.
    RatioAtLeast(f64),
    /// value ≤ x (in the figure's unit).
    AtMost(f64),
    /// value ≥ x (in the figure's unit).
    AtLeast(f64),
    /// A figure reported for information, such as a baseline later crates compare against.
    Info,
}

/// One row of `docs/benchmarks.md`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Figure {
    /// The crate this figure belongs to, without the `perfstack-` prefix (`tiered-cache`).
    pub krate: String,
    /// What is measured, in words a reader understands.
    pub figure: String,
    /// Unit of `value` and `baseline` (`ns`, `ops/s`, `ratio`, `calls`).
    pub unit: String,
    /// The measured figure.
    pub value: Measure,
    /// The baseline it is compared with, measured in the same run.
    pub baseline: Option<Measure>,
    /// The goal from BENCHMARKS.md.
    pub goal: Goal,
    /// What the baseline is, or how to read the row.
    pub note: String,
}

/// Error writing bench output.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The output folder or file could not be written.
    #[error("cannot write bench output {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A figure could not be serialised.
    #[error("cannot serialise figure: {0}")]
    Json(#[from] serde_json::Error),
}

/// The folder that bench output goes to: `$PERFSTACK_BENCH_OUT`, else
/// `<workspace>/target/perfstack-bench`.
#[must_use]
pub fn out_dir() -> PathBuf {
    match std::env::var_os("PERFSTACK_BENCH_OUT") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/perfstack-bench"),
    }
}

/// The folder for plots that `docs/benchmarks.md` links to: `$PERFSTACK_PLOT_DIR`, else
/// `<workspace>/docs/plots`.
#[must_use]
pub fn plot_dir() -> PathBuf {
    match std::env::var_os("PERFSTACK_PLOT_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/plots"),
    }
}

/// True when `scripts/bench.sh --quick` runs the benches: simulations and load runs should
/// shrink to a size that finishes in seconds.
#[must_use]
pub fn quick() -> bool {
    std::env::var("PERFSTACK_BENCH_QUICK").is_ok_and(|v| v == "1")
}

/// Appends a figure to `figures.jsonl` in [`out_dir`]. The last record of a (crate, figure)
/// pair wins, so a bench can be rerun alone.
///
/// # Errors
///
/// When the output folder cannot be written.
pub fn try_record(figure: &Figure) -> Result<(), ReportError> {
    let dir = out_dir();
    fs::create_dir_all(&dir).map_err(|source| ReportError::Io { path: dir.clone(), source })?;
    let path = dir.join("figures.jsonl");
    // When the figure was measured (`scripts/bench.sh` sets the run's start), so a report
    // merged from several runs says when each crate's rows were measured.
    let mut value = serde_json::to_value(figure)?;
    if let (Ok(at), Some(obj)) = (std::env::var("PERFSTACK_BENCH_STAMP"), value.as_object_mut()) {
        obj.insert("at".to_owned(), serde_json::Value::String(at));
    }
    let mut line = serde_json::to_string(&value)?;
    line.push('\n');
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(|source| ReportError::Io { path, source })
}

/// [`try_record`] for benches: a failure to write is reported on stderr, not fatal, so a bench
/// run is never lost to a read-only folder.
pub fn record(figure: &Figure) {
    if let Err(e) = try_record(figure) {
        let _ = writeln!(std::io::stderr(), "perfstack-benches: {e}");
    }
}

/// Writes a markdown section (a table, a plot link) that `docs/benchmarks.md` prints under the
/// crate's table. `name` orders the sections of one crate and replaces an earlier one.
///
/// # Errors
///
/// When the output folder cannot be written.
pub fn write_section(krate: &str, name: &str, markdown: &str) -> Result<(), ReportError> {
    let dir = out_dir().join("sections").join(krate);
    fs::create_dir_all(&dir).map_err(|source| ReportError::Io { path: dir.clone(), source })?;
    let path = dir.join(format!("{name}.md"));
    fs::write(&path, markdown).map_err(|source| ReportError::Io { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figure_round_trips_through_json() {
        let f = Figure {
            krate: "tiered-cache".into(),
            figure: "L1 hit".into(),
            unit: "ns".into(),
            value: Measure::CriterionRate { id: "l1/hit".into(), elements: 100 },
            baseline: Some(Measure::Value(1.5)),
            goal: Goal::RatioAtMost(1.3),
            note: String::new(),
        };
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(serde_json::from_str::<Figure>(&json).unwrap(), f);
    }
}
