//! Turns recorded figures and criterion's estimates into the report's rows and markdown.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::{Figure, Goal, Measure};

/// The order in which crates appear in `docs/benchmarks.md`; others follow alphabetically.
const CRATE_ORDER: &[&str] = &[
    "baselines",
    "resilience",
    "tiered-cache",
    "admission",
    "task-queue",
    "pg-optimizer",
    "semantic-cache",
    "perf-monitor",
];

/// The machine and time a report was measured on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// UTC date and time of the run.
    pub date: String,
    /// Logical cores.
    pub cores: usize,
    /// Memory in GiB.
    pub memory_gib: f64,
    /// CPU model name.
    pub cpu: String,
    /// `quick` or `full`.
    pub mode: String,
}

/// One resolved row of the summary.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Crate, without the `perfstack-` prefix.
    #[serde(rename = "crate")]
    pub krate: String,
    /// What is measured.
    pub figure: String,
    /// The measured value, `None` when this run did not measure it.
    pub value: Option<f64>,
    /// Unit of value and baseline.
    pub unit: String,
    /// The baseline from the same run.
    pub baseline: Option<f64>,
    /// value / baseline.
    pub ratio: Option<f64>,
    /// The goal, in words.
    pub goal: String,
    /// Whether the goal holds; `None` for information rows or missing values.
    pub met: Option<bool>,
    /// How to read the row.
    pub note: String,
}

/// Median ns per iteration of criterion benchmark `id` under `criterion_dir`.
#[must_use]
pub fn criterion_median_ns(criterion_dir: &Path, id: &str) -> Option<f64> {
    let path = criterion_dir.join(id).join("new").join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("median")?.get("point_estimate")?.as_f64()
}

fn resolve(measure: &Measure, criterion: &dyn Fn(&str) -> Option<f64>) -> Option<f64> {
    match measure {
        Measure::Value(v) => Some(*v).filter(|v| v.is_finite()),
        Measure::Criterion(id) => criterion(id),
        Measure::CriterionRate { id, elements } => {
            criterion(id).filter(|ns| *ns > 0.0).map(|ns| *elements as f64 * 1e9 / ns)
        }
        Measure::CriterionOverhead { id, bare } => Some(criterion(id)? - criterion(bare)?),
    }
}

fn goal_text(goal: &Goal, unit: &str) -> String {
    match goal {
        Goal::RatioAtMost(x) => format!("≤ {}×", fmt_num(*x)),
        Goal::RatioAtLeast(x) => format!("≥ {}×", fmt_num(*x)),
        Goal::AtMost(x) => format!("≤ {} {unit}", fmt_num(*x)),
        Goal::AtLeast(x) => format!("≥ {} {unit}", fmt_num(*x)),
        Goal::Info => "—".to_owned(),
    }
}

/// Resolves figures into rows: the last record of each (crate, figure) wins.
#[must_use]
pub fn rows(figures: &[Figure], criterion: &dyn Fn(&str) -> Option<f64>) -> Vec<Row> {
    let mut latest: BTreeMap<(usize, String, String), (usize, &Figure)> = BTreeMap::new();
    for (seq, f) in figures.iter().enumerate() {
        let order = CRATE_ORDER.iter().position(|c| *c == f.krate).unwrap_or(CRATE_ORDER.len());
        let key = (order, f.krate.clone(), f.figure.clone());
        // Keep the first position of a figure so rows stay in the bench's order.
        let first = latest.get(&key).map_or(seq, |(s, _)| *s);
        latest.insert(key, (first, f));
    }
    let mut ordered: Vec<_> = latest.into_iter().collect();
    ordered.sort_by_key(|((order, krate, _), (seq, _))| (*order, krate.clone(), *seq));
    ordered
        .into_iter()
        .map(|(_, (_, f))| {
            let value = resolve(&f.value, criterion);
            let baseline = f.baseline.as_ref().and_then(|b| resolve(b, criterion));
            let ratio = match (value, baseline) {
                (Some(v), Some(b)) if b != 0.0 => Some(v / b),
                _ => None,
            };
            let met = match (&f.goal, value, ratio) {
                (Goal::RatioAtMost(x), _, Some(r)) => Some(r <= *x),
                (Goal::RatioAtLeast(x), _, Some(r)) => Some(r >= *x),
                (Goal::AtMost(x), Some(v), _) => Some(v <= *x),
                (Goal::AtLeast(x), Some(v), _) => Some(v >= *x),
                _ => None,
            };
            Row {
                krate: f.krate.clone(),
                figure: f.figure.clone(),
                value,
                unit: f.unit.clone(),
                baseline,
                ratio,
                goal: goal_text(&f.goal, &f.unit),
                met,
                note: f.note.clone(),
            }
        })
        .collect()
}

/// A number with about three significant figures and thousands separators.
#[must_use]
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let a = v.abs();
    let s = if a >= 1000.0 {
        let digits = format!("{:.0}", a);
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if a >= 100.0 {
        format!("{a:.0}")
    } else if a >= 10.0 {
        format!("{a:.1}")
    } else if a >= 1.0 {
        format!("{a:.2}")
    } else if a == 0.0 {
        "0".to_owned()
    } else {
        format!("{a:.3}")
    };
    if v < 0.0 {
        format!("-{s}")
    } else {
        s
    }
}

/// The markdown of `docs/benchmarks.md`. `sections` maps a crate to its extra markdown;
/// `stamps` to the earliest and latest time its shown rows were measured (a report merges the
/// last record of each figure, possibly from several runs).
#[must_use]
pub fn markdown(
    rows: &[Row],
    machine: &Machine,
    sections: &BTreeMap<String, Vec<String>>,
    stamps: &BTreeMap<String, (String, String)>,
) -> String {
    let mut md = String::new();
    let machine_line = format!(
        "{} UTC, `{}` mode, {} cores, {:.0} GiB, {}",
        machine.date, machine.mode, machine.cores, machine.memory_gib, machine.cpu
    );
    let _ = writeln!(md, "# perfstack benchmarks\n");
    let _ = writeln!(
        md,
        "Generated by `scripts/bench.sh` — do not edit by hand. Every figure is measured next to its \
         baseline **in the same run** on the same machine; the ratio is value / baseline. The machines \
         are shared and noisy (2 cores), so read ratios, not absolute figures.\n"
    );
    let _ = writeln!(md, "Run: {machine_line}.\n");
    let mut crates: Vec<&str> = Vec::new();
    for r in rows {
        if !crates.contains(&r.krate.as_str()) {
            crates.push(&r.krate);
        }
    }
    for name in sections.keys() {
        if !crates.contains(&name.as_str()) {
            crates.push(name);
        }
    }
    for krate in crates {
        let _ = writeln!(md, "## {krate}\n");
        match stamps.get(krate) {
            Some((first, last)) => {
                let when = if first == last { first.clone() } else { format!("{first} – {last}") };
                let _ = writeln!(
                    md,
                    "Measured {when} UTC, `{}` mode, {} cores, {:.0} GiB, {}.\n",
                    machine.mode, machine.cores, machine.memory_gib, machine.cpu
                );
            }
            None => {
                let _ = writeln!(md, "Measured {machine_line}.\n");
            }
        }
        let crate_rows: Vec<&Row> = rows.iter().filter(|r| r.krate == krate).collect();
        if !crate_rows.is_empty() {
            let _ = writeln!(md, "| figure | value | baseline | ratio | goal | met | note |");
            let _ = writeln!(md, "|---|---:|---:|---:|---|:-:|---|");
            for r in crate_rows {
                let num =
                    |v: Option<f64>| v.map_or("not measured".to_owned(), |v| format!("{} {}", fmt_num(v), r.unit));
                let baseline = r.baseline.map_or("—".to_owned(), |b| format!("{} {}", fmt_num(b), r.unit));
                let ratio = r.ratio.map_or("—".to_owned(), |x| format!("{}×", fmt_num(x)));
                let met = match r.met {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "—",
                };
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    r.figure,
                    num(r.value),
                    baseline,
                    ratio,
                    r.goal,
                    met,
                    r.note
                );
            }
            let _ = writeln!(md);
        }
        if let Some(extra) = sections.get(krate) {
            for s in extra {
                let _ = writeln!(md, "{}\n", s.trim_end());
            }
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(figure: &str, value: Measure, baseline: Option<Measure>, goal: Goal) -> Figure {
        Figure {
            krate: "x".into(),
            figure: figure.into(),
            unit: "ns".into(),
            value,
            baseline,
            goal,
            note: String::new(),
        }
    }

    #[test]
    fn ratios_and_goals_are_computed_from_criterion_medians() {
        let est = |id: &str| match id {
            "g/ours" => Some(13.0),
            "g/bare" => Some(10.0),
            _ => None,
        };
        let figures = vec![
            fig(
                "hit",
                Measure::Criterion("g/ours".into()),
                Some(Measure::Criterion("g/bare".into())),
                Goal::RatioAtMost(1.3),
            ),
            fig("rate", Measure::CriterionRate { id: "g/bare".into(), elements: 10 }, None, Goal::AtLeast(2e9)),
            fig(
                "over",
                Measure::CriterionOverhead { id: "g/ours".into(), bare: "g/bare".into() },
                None,
                Goal::AtMost(2.0),
            ),
            fig("gone", Measure::Criterion("g/missing".into()), None, Goal::AtMost(1.0)),
        ];
        let rows = rows(&figures, &est);
        assert_eq!(rows[0].ratio, Some(1.3));
        assert_eq!(rows[0].met, Some(true));
        assert_eq!(rows[1].value, Some(1e9));
        assert_eq!(rows[1].met, Some(false));
        assert_eq!(rows[2].value, Some(3.0));
        assert_eq!(rows[2].met, Some(false));
        assert_eq!(rows[3].value, None);
        assert_eq!(rows[3].met, None);
    }

    #[test]
    fn the_last_record_of_a_figure_wins_and_keeps_its_place() {
        let figures = vec![
            fig("a", Measure::Value(1.0), None, Goal::Info),
            fig("b", Measure::Value(2.0), None, Goal::Info),
            fig("a", Measure::Value(3.0), None, Goal::Info),
        ];
        let rows = rows(&figures, &|_| None);
        let got: Vec<(&str, Option<f64>)> = rows.iter().map(|r| (r.figure.as_str(), r.value)).collect();
        assert_eq!(got, vec![("a", Some(3.0)), ("b", Some(2.0))]);
    }

    #[test]
    fn numbers_are_formatted_for_people() {
        assert_eq!(fmt_num(1_234_567.0), "1,234,567");
        assert_eq!(fmt_num(123.4), "123");
        assert_eq!(fmt_num(12.34), "12.3");
        assert_eq!(fmt_num(1.234), "1.23");
        assert_eq!(fmt_num(0.01234), "0.012");
        assert_eq!(fmt_num(-2500.0), "-2,500");
    }

    #[test]
    fn markdown_has_a_table_per_crate_with_date_and_machine() {
        let machine = Machine {
            date: "2026-11-22 19:00".into(),
            cores: 2,
            memory_gib: 23.4,
            cpu: "cpu".into(),
            mode: "quick".into(),
        };
        let rows =
            rows(&[fig("hit", Measure::Value(5.0), Some(Measure::Value(4.0)), Goal::RatioAtMost(1.3))], &|_| None);
        let mut sections = BTreeMap::new();
        sections.insert("x".to_owned(), vec!["### extra".to_owned()]);
        let md = markdown(&rows, &machine, &sections, &BTreeMap::new());
        assert!(md.contains("## x"));
        assert!(md.contains("| hit | 5.00 ns | 4.00 ns | 1.25× | ≤ 1.30× | yes |"), "{md}");
        assert!(md.contains("2 cores, 23 GiB"));
        assert!(md.contains("### extra"));
        assert!(md.contains("Measured 2026-11-22 19:00 UTC"), "no stamps: the run's date");
        let mut stamps = BTreeMap::new();
        stamps.insert("x".to_owned(), ("2026-11-22 17:00".to_owned(), "2026-11-22 18:30".to_owned()));
        let md = markdown(&rows, &machine, &sections, &stamps);
        assert!(md.contains("Measured 2026-11-22 17:00 – 2026-11-22 18:30 UTC, `quick` mode"), "{md}");
    }
}
