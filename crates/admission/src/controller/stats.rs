use serde::Serialize;

use crate::Priority;

/// A snapshot of a controller, for a host to read or serve as JSON.
#[derive(Debug, Clone, Serialize, PartialEq)]
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
pub struct PriorityStats {
    /// The level.
    pub priority: Priority,
    /// Its in-flight cap under the current limit.
    pub cap: usize,
    /// Requests admitted at this level, estimated from one admission in `sample_every` (so
    /// that counting costs nothing on the admitted path); exact when `sample_every` is 1.
    pub admitted_estimate: u64,
    /// Requests rejected, by reason (`rate`, `concurrency`, `overload`, `deadline`, `queue_full`).
    pub rejected: std::collections::BTreeMap<&'static str, u64>,
}
