//! Metric handles resolved once at pool start, so that recording costs no allocation per task.
//! (A recorder installed after the pool started does not see these handles.) Every metric
//! carries the queue's name as the label `name`.

use std::collections::HashMap;
use std::sync::Arc;

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
    fn new(name: &Arc<str>, kind: &str) -> Self {
        Self {
            outcomes: OUTCOMES.map(|o| {
                metrics::counter!(
                    "perfstack_task_queue_outcomes_total",
                    "name" => Arc::clone(name), "kind" => kind.to_string(), "outcome" => o
                )
            }),
            durations: OUTCOMES.map(|o| {
                metrics::histogram!(
                    "perfstack_task_queue_duration_seconds",
                    "name" => Arc::clone(name), "kind" => kind.to_string(), "outcome" => o
                )
            }),
        }
    }
}

#[derive(Debug)]
pub(super) struct PoolMetrics {
    by_kind: HashMap<String, KindMetrics>,
    unknown: KindMetrics,
    pub(super) wait: [Histogram; 5],
    /// Outcome writes rejected as stale.
    pub(super) stale: Counter,
    /// Expired leases of dead workers rescued.
    pub(super) rescued: Counter,
}

impl PoolMetrics {
    pub(super) fn new<'a>(name: &Arc<str>, kinds: impl Iterator<Item = &'a String>) -> Self {
        Self {
            by_kind: kinds.map(|k| (k.clone(), KindMetrics::new(name, k))).collect(),
            unknown: KindMetrics::new(name, "unknown"),
            wait: [0i64, 1, 2, 3, 4].map(|l| {
                metrics::histogram!(
                    "perfstack_task_queue_wait_seconds",
                    "name" => Arc::clone(name), "priority" => label(from_level(l))
                )
            }),
            stale: metrics::counter!("perfstack_task_queue_stale_completions_total", "name" => Arc::clone(name)),
            rescued: metrics::counter!("perfstack_task_queue_rescued_total", "name" => Arc::clone(name)),
        }
    }

    pub(super) fn kind(&self, kind: &str) -> &KindMetrics {
        self.by_kind.get(kind).unwrap_or(&self.unknown)
    }
}
