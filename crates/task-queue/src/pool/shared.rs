//! State shared by a pool's fetch loop, runners, heartbeat and completer.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use super::config::PoolConfig;
use super::handlers::Handlers;
use super::metrics::PoolMetrics;
use crate::backend::Completion;
use crate::id_hash::IdHash;
use crate::queue::TaskQueue;
use crate::task::TaskId;

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) queue: TaskQueue,
    pub(super) cfg: PoolConfig,
    pub(super) handlers: Handlers,
    /// One permit per task that may run at once.
    pub(super) slots: Arc<Semaphore>,
    /// Leases held right now: id → (fence, token).
    /// Only kept when leases can expire (not for in-process backends).
    pub(super) running: Mutex<HashMap<TaskId, (i64, CancellationToken), IdHash>>,
    /// Attempts running right now.
    pub(super) in_flight: crate::striped::Gauge,
    /// Whether to track leases in `running` (the backend is not in-process).
    pub(super) track_leases: bool,
    /// Stop fetching.
    pub(super) stop: CancellationToken,
    /// Grace is over: cancel and hand back what still runs.
    pub(super) kill: CancellationToken,
    /// Metric handles.
    pub(super) metrics: PoolMetrics,
    /// Outcomes to the completer; taken (closed) at shutdown.
    pub(super) outcomes: Mutex<Option<mpsc::UnboundedSender<Completion>>>,
}

impl Shared {
    pub(super) fn sender(&self) -> Option<mpsc::UnboundedSender<Completion>> {
        self.outcomes.lock().clone()
    }

    /// Counts `n` outcome writes the backend rejected as stale (the lease had moved on: the
    /// fencing token no longer matched), in the queue's stats and the metric.
    pub(super) fn count_rejected(&self, n: usize) {
        if n > 0 {
            let n = n as u64;
            self.queue.inner.counters.stale_rejected.add(n);
            self.metrics.stale.increment(n);
        }
    }
}
