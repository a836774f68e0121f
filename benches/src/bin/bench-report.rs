//! Writes `docs/benchmarks.md` and `target/perfstack-bench/summary.json` from the figures the
//! benches recorded and criterion's estimates. Run by `scripts/bench.sh`.
//!
//! ```text
//! bench-report --criterion-dir target/criterion --markdown docs/benchmarks.md --mode quick --date "2026-11-22 19:00"
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use perfstack_benches::render::{criterion_median_ns, markdown, rows, Machine};
use perfstack_benches::{out_dir, Figure};

struct Args {
    criterion_dir: PathBuf,
    markdown: PathBuf,
    mode: String,
    date: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        criterion_dir: PathBuf::from("target/criterion"),
        markdown: PathBuf::from("docs/benchmarks.md"),
        mode: "quick".into(),
        date: "unknown date".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--criterion-dir" => args.criterion_dir = value.into(),
            "--markdown" => args.markdown = value.into(),
            "--mode" => args.mode = value,
            "--date" => args.date = value,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

fn read_figures(path: &Path) -> Result<Vec<Figure>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut figures = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        match serde_json::from_str(line) {
            Ok(f) => figures.push(f),
            Err(e) => eprintln!("bench-report: skipping line {} of {}: {e}", n + 1, path.display()),
        }
    }
    Ok(figures)
}

/// Per crate, the earliest and latest time (`at`) among the records that are shown (the last
/// record of each figure), as `scripts/bench.sh` stamped them.
fn read_stamps(path: &Path) -> BTreeMap<String, (String, String)> {
    let mut last: BTreeMap<(String, String), String> = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let field = |k: &str| v.get(k).and_then(serde_json::Value::as_str).map(str::to_owned);
        if let (Some(krate), Some(figure), Some(at)) = (field("krate"), field("figure"), field("at")) {
            last.insert((krate, figure), at);
        }
    }
    let mut stamps: BTreeMap<String, (String, String)> = BTreeMap::new();
    for ((krate, _), at) in last {
        let e = stamps.entry(krate).or_insert_with(|| (at.clone(), at.clone()));
        if at < e.0 {
            e.0 = at.clone();
        }
        if at > e.1 {
            e.1 = at;
        }
    }
    stamps
}

fn read_sections(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut sections = BTreeMap::new();
    let Ok(crates) = std::fs::read_dir(dir) else { return sections };
    for krate in crates.flatten() {
        let Ok(files) = std::fs::read_dir(krate.path()) else { continue };
        let mut paths: Vec<PathBuf> =
            files.flatten().map(|f| f.path()).filter(|p| p.extension().is_some_and(|e| e == "md")).collect();
        paths.sort();
        let texts: Vec<String> = paths.iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect();
        sections.insert(krate.file_name().to_string_lossy().into_owned(), texts);
    }
    sections
}

fn machine(mode: String, date: String) -> Machine {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib: f64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or_else(|| "unknown CPU".to_owned(), |s| s.trim().to_owned());
    Machine { date, cores, memory_gib: kib / 1024.0 / 1024.0, cpu, mode }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let out = out_dir();
    let figures = read_figures(&out.join("figures.jsonl"))?;
    let criterion_dir = args.criterion_dir.clone();
    let rows = rows(&figures, &|id| criterion_median_ns(&criterion_dir, id));
    let machine = machine(args.mode, args.date);
    let sections = read_sections(&out.join("sections"));

    let stamps = read_stamps(&out.join("figures.jsonl"));
    let md = markdown(&rows, &machine, &sections, &stamps);
    std::fs::write(&args.markdown, md).map_err(|e| format!("{}: {e}", args.markdown.display()))?;
    let summary = serde_json::json!({ "machine": machine, "rows": rows });
    let summary_path = out.join("summary.json");
    let text = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
    std::fs::write(&summary_path, text).map_err(|e| format!("{}: {e}", summary_path.display()))?;

    let missed = rows.iter().filter(|r| r.met == Some(false)).count();
    let unmeasured = rows.iter().filter(|r| r.value.is_none()).count();
    println!(
        "bench-report: {} rows ({} goals missed, {} not measured) -> {} and {}",
        rows.len(),
        missed,
        unmeasured,
        args.markdown.display(),
        summary_path.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-report: {e}");
            ExitCode::FAILURE
        }
    }
}
