//! Metric handles resolved once at pool start, so that recording costs no allocation per task.
//! (A recorder installed after the pool started does not see these handles.)

use std::collections::HashMap;

use metrics::{Counter, Histogram};

use crate::priority::{from_level, label};

/// Outcome labels, in the order of [`KindMetrics`]'s arrays.
pub(super) const OUTCOMES: [&str; 5] = ["completed", "retried", "dead", "cancelled", "released"];

#[derive(Debug)]
pub(super) struct KindMetrics {
    pub(super) outcomes: [Counter; 5],
    pub(super) durations: [Histogram; 5],
}

impl KindMetrics {
    fn new(kind: &str) -> Self {
        Self {
            outcomes: OUTCOMES.map(
                |o| metrics::counter!("perfstack_task_outcomes_total", "kind" => kind.to_string(), "outcome" => o),
            ),
            durations: OUTCOMES.map(
                |o| metrics::histogram!("perfstack_task_duration_seconds", "kind" => kind.to_string(), "outcome" => o),
            ),
        }
    }
}

#[derive(Debug)]
pub(super) struct PoolMetrics {
    by_kind: HashMap<String, KindMetrics>,
    unknown: KindMetrics,
    pub(super) wait: [Histogram; 5],
}

impl PoolMetrics {
    pub(super) fn new<'a>(kinds: impl Iterator<Item = &'a String>) -> Self {
        Self {
            by_kind: kinds.map(|k| (k.clone(), KindMetrics::new(k))).collect(),
            unknown: KindMetrics::new("unknown"),
            wait: [0i64, 1, 2, 3, 4]
                .map(|l| metrics::histogram!("perfstack_task_wait_seconds", "priority" => label(from_level(l)))),
        }
    }

    pub(super) fn kind(&self, kind: &str) -> &KindMetrics {
        self.by_kind.get(kind).unwrap_or(&self.unknown)
    }
}
