//! [`AdmissionStats`]: a serde snapshot of a controller, per priority level.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use serde::Serialize;

use super::inner::Inner;
use super::RejectReason;
use crate::Priority;

/// A snapshot of a controller, for a host to read or serve as JSON.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct AdmissionStats {
    /// The controller's name (metrics label).
    pub name: String,
    /// The limit algorithm (`vegas`, `gradient2`, `aimd`, `static`).
    pub algorithm: &'static str,
    /// Current concurrency limit.
    pub limit: usize,
    /// Requests in flight now.
    pub inflight: usize,
    /// Requests admitted so far (exact).
    pub admitted_total: u64,
    /// Requests waiting in the queue now.
    pub queued: usize,
    /// Control windows closed so far.
    pub windows: u64,
    /// Mean RTT of the last closed window, in seconds.
    pub last_rtt_seconds: f64,
    /// Priority levels below this index are shed by overload signals (0 = none).
    pub overload_shed_levels: usize,
    /// Per priority level, lowest first.
    pub priorities: Vec<PriorityStats>,
}

/// Counts for one priority level.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct PriorityStats {
    /// The level.
    pub priority: Priority,
    /// Its in-flight cap under the current limit.
    pub cap: usize,
    /// Requests admitted at this level, estimated from one admission in `sample_every` (so
    /// that counting costs nothing on the admitted path); exact when `sample_every` is 1.
    pub admitted_estimate: u64,
    /// Requests rejected, by reason (`rate`, `concurrency`, `overload`, `deadline`, `queue_full`).
    pub rejected: BTreeMap<&'static str, u64>,
}

impl AdmissionStats {
    /// Reads the controller's counters (and, under its lock, the limit's name, the queue and
    /// the window count).
    pub(super) fn of(inner: &Inner) -> Self {
        let core = inner.core.lock();
        let priorities = Priority::ALL
            .iter()
            .map(|&p| PriorityStats {
                priority: p,
                cap: inner.caps[p.index()].load(Ordering::Relaxed),
                admitted_estimate: inner.admitted_sampled[p.index()]
                    .load(Ordering::Relaxed)
                    .saturating_mul(u64::from(inner.sample_every)),
                rejected: RejectReason::ALL
                    .iter()
                    .map(|r| (r.as_str(), inner.rejected[r.index()][p.index()].load(Ordering::Relaxed)))
                    .collect::<BTreeMap<_, _>>(),
            })
            .collect();
        AdmissionStats {
            name: inner.name.clone(),
            algorithm: core.limit.name(),
            limit: inner.limit_now.load(Ordering::Relaxed),
            inflight: inner.inflight(),
            admitted_total: inner.admitted_total(),
            queued: core.queue.len(),
            windows: core.windows,
            last_rtt_seconds: inner.last_rtt().as_secs_f64(),
            overload_shed_levels: inner.shed_levels.load(Ordering::Relaxed),
            priorities,
        }
    }
}
