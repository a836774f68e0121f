//! Checks the metric names a crate registers against the workspace rule
//! `perfstack_<crate>_<what>_<unit>` (docs/architecture.md, "Names across crates").
//!
//! A crate's `tests/metric_names.rs` runs code that registers every metric it has inside
//! [`capture`], then asserts the list with [`check`] and compares it with the list its README
//! documents, so a renamed or new metric cannot ship undocumented or misnamed.
//!
//! ```
//! use perfstack_testkit::metric_names::{capture, check};
//!
//! let registered = capture(|| {
//!     metrics::counter!("perfstack_demo_requests_total", "name" => "orders").increment(1);
//!     metrics::gauge!("perfstack_demo_inflight_requests", "name" => "orders").set(1.0);
//! });
//! check("demo", &registered).unwrap();
//! assert!(check("demo", &capture(|| {
//!     metrics::counter!("perfstack_demo_requests", "cache" => "orders").increment(1);
//! }))
//! .is_err());
//! ```

use std::collections::BTreeMap;
use std::fmt;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};

/// The label that carries the instance name (the name given to a builder) on every metric.
pub const INSTANCE_LABEL: &str = "name";

/// The last word of a metric name: its unit. Counters end in `_total`; gauges and histograms
/// end in a base unit, or in the plural noun they count (`_requests`, `_entries`), or in
/// `_state` / `_level` for an enumerated gauge whose values the crate documents.
pub const UNITS: &[&str] = &[
    "seconds",
    "bytes",
    "ratio",
    "requests",
    "tasks",
    "entries",
    "keys",
    "permits",
    "calls",
    "connections",
    "workers",
    "rows",
    "state",
    "level",
];

/// What kind of metric a name was registered as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A monotonic counter.
    Counter,
    /// A gauge.
    Gauge,
    /// A histogram.
    Histogram,
}

/// One registered metric name, with its kind and the label keys seen with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The metric name.
    pub name: String,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// Every label key seen on any series of this name, sorted.
    pub labels: Vec<String>,
}

/// One way a name breaks the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The offending metric name.
    pub name: String,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.problem)
    }
}

/// Runs `f` with a recorder local to this thread and returns every metric it registered,
/// sorted by name. Work `f` hands to other threads is not seen: run it on this thread (a
/// current-thread runtime inside `f` is fine).
pub fn capture(f: impl FnOnce()) -> Vec<Registered> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, f);
    let mut by_name: BTreeMap<String, Registered> = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let kind = match value {
            DebugValue::Counter(_) => Kind::Counter,
            DebugValue::Gauge(_) => Kind::Gauge,
            DebugValue::Histogram(_) => Kind::Histogram,
        };
        let k = key.key();
        let entry = by_name.entry(k.name().to_owned()).or_insert_with(|| Registered {
            name: k.name().to_owned(),
            kind,
            labels: Vec::new(),
        });
        for label in k.labels() {
            if !entry.labels.iter().any(|l| l == label.key()) {
                entry.labels.push(label.key().to_owned());
            }
        }
        entry.labels.sort();
    }
    by_name.into_values().collect()
}

/// Checks every name against `perfstack_<crate_word>_<what>_<unit>` (lower snake case,
/// `<unit>` from [`UNITS`], `_total` for counters and only for counters), label keys in snake
/// case, and the instance label [`INSTANCE_LABEL`] on every metric. `crate_word` is the crate
/// name without `perfstack-`, with `-` as `_` (`tiered_cache`).
///
/// # Errors
///
/// Every violation found, not just the first.
pub fn check(crate_word: &str, registered: &[Registered]) -> Result<(), Vec<Violation>> {
    let prefix = format!("perfstack_{crate_word}_");
    let mut out = Vec::new();
    let mut bad = |name: &str, problem: String| out.push(Violation { name: name.to_owned(), problem });
    for r in registered {
        let name = r.name.as_str();
        if !is_snake(name) {
            bad(name, "not lower snake case".into());
        }
        let Some(rest) = name.strip_prefix(&prefix) else {
            bad(name, format!("does not start with `{prefix}`"));
            continue;
        };
        let unit = rest.rsplit('_').next().unwrap_or_default();
        if rest == unit {
            bad(name, "no `<what>` between the crate and the unit".into());
        }
        match (r.kind, unit) {
            (Kind::Counter, "total") => {}
            (Kind::Counter, _) => bad(name, "a counter ends in `_total`".into()),
            (_, "total") => bad(name, "only counters end in `_total`".into()),
            (_, u) if UNITS.contains(&u) => {}
            (_, u) => bad(name, format!("`{u}` is not a unit (one of {})", UNITS.join(", "))),
        }
        for l in &r.labels {
            if !is_snake(l) {
                bad(name, format!("label `{l}` is not lower snake case"));
            }
        }
        if !r.labels.iter().any(|l| l == INSTANCE_LABEL) {
            bad(name, format!("no `{INSTANCE_LABEL}` label (labels: {:?})", r.labels));
        }
    }
    if out.is_empty() {
        Ok(())
    } else {
        Err(out)
    }
}

fn is_snake(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !s.contains("__")
        && !s.ends_with('_')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn one(name: &str, kind: Kind, labels: &[&str]) -> Vec<Registered> {
        vec![Registered { name: name.into(), kind, labels: labels.iter().map(|l| (*l).to_owned()).collect() }]
    }

    #[test]
    fn names_that_follow_the_rule_pass() {
        check("tiered_cache", &one("perfstack_tiered_cache_l1_hits_total", Kind::Counter, &["name"])).unwrap();
        check("admission", &one("perfstack_admission_limit_requests", Kind::Gauge, &["name"])).unwrap();
        check("admission", &one("perfstack_admission_wait_seconds", Kind::Histogram, &["name", "priority"])).unwrap();
    }

    #[test]
    fn each_kind_of_mistake_is_named() {
        let cases = [
            ("perfstack_breaker_state", Kind::Gauge, vec!["name"], "does not start with"),
            ("perfstack_resilience_calls", Kind::Counter, vec!["name"], "ends in `_total`"),
            ("perfstack_resilience_open_total", Kind::Gauge, vec!["name"], "only counters"),
            ("perfstack_resilience_limit", Kind::Gauge, vec!["name"], "not a unit"),
            ("perfstack_resilience_total", Kind::Counter, vec!["name"], "no `<what>`"),
            ("perfstack_resilience_Calls_total", Kind::Counter, vec!["name"], "snake"),
            ("perfstack_resilience_calls_total", Kind::Counter, vec!["policy"], "no `name` label"),
            ("perfstack_resilience_calls_total", Kind::Counter, vec!["name", "Kind"], "label `Kind`"),
        ];
        for (name, kind, labels, expect) in cases {
            let err = check("resilience", &one(name, kind, &labels)).unwrap_err();
            assert!(err.iter().any(|v| v.problem.contains(expect)), "{name}: {err:?}");
        }
    }

    #[test]
    fn capture_sees_names_kinds_and_label_keys() {
        let got = capture(|| {
            metrics::counter!("perfstack_x_a_total", "name" => "n", "to" => "open").increment(1);
            metrics::counter!("perfstack_x_a_total", "name" => "n", "from" => "closed").increment(1);
            metrics::histogram!("perfstack_x_b_seconds", "name" => "n").record(1.0);
        });
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].labels, vec!["from", "name", "to"]);
        assert_eq!(got[1].kind, Kind::Histogram);
    }
}
