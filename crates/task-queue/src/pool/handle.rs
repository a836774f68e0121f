//! The pool handle: start and graceful shutdown.

use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::builder::WorkerPoolBuilder;
use super::metrics::PoolMetrics;
use super::shared::Shared;
use super::{completer, fetcher, heartbeat, worker};
use crate::queue::TaskQueue;

/// A running set of workers. Cheap to clone; [`WorkerPool::shutdown`] stops it (dropping the
/// last handle without a shutdown cancels everything at once).
#[derive(Debug, Clone)]
pub struct WorkerPool {
    inner: Arc<Handle>,
}

#[derive(Debug)]
struct Handle {
    shared: Arc<Shared>,
    loops: Mutex<Option<Loops>>,
}

#[derive(Debug)]
struct Loops {
    fetch: JoinHandle<()>,
    heartbeat: JoinHandle<()>,
    completer: JoinHandle<()>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.stop.cancel();
        self.shared.kill.cancel();
    }
}

/// What a graceful shutdown did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ShutdownReport {
    /// True when every running task finished within the grace period.
    pub finished_in_grace: bool,
    /// Tasks cancelled and handed back after the grace period.
    pub handed_back: usize,
}

impl WorkerPool {
    /// A builder for a pool that runs tasks from `queue`.
    pub fn builder(queue: &TaskQueue) -> WorkerPoolBuilder {
        WorkerPoolBuilder::new(queue)
    }

    pub(super) fn start(b: WorkerPoolBuilder) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let in_process = b.queue.backend().in_process();
        // Subscribed before the first fetch, so no cancel request for our leases is missed.
        let cancels = b.queue.backend().cancellations();
        let metrics = PoolMetrics::new(b.queue.name_arc(), b.handlers.keys());
        let shared = Arc::new(Shared {
            queue: b.queue,
            slots: Arc::new(Semaphore::new(b.cfg.concurrency)),
            cfg: b.cfg,
            metrics,
            handlers: b.handlers,
            running: Mutex::default(),
            in_flight: crate::striped::Gauge::default(),
            track_leases: !in_process,
            stop: CancellationToken::new(),
            kill: CancellationToken::new(),
            outcomes: Mutex::new(Some(tx)),
        });
        let loops = Loops {
            fetch: if in_process {
                tokio::spawn(worker::worker_loops(Arc::clone(&shared)))
            } else {
                tokio::spawn(fetcher::fetch_loop(Arc::clone(&shared)))
            },
            heartbeat: tokio::spawn(heartbeat::run(Arc::clone(&shared), cancels)),
            completer: tokio::spawn(completer::run(Arc::clone(&shared), rx)),
        };
        Self { inner: Arc::new(Handle { shared, loops: Mutex::new(Some(loops)) }) }
    }

    /// Tasks running right now.
    #[must_use]
    pub fn running(&self) -> usize {
        self.inner.shared.in_flight.get()
    }

    /// Stops fetching, lets running tasks finish within the grace period, then cancels the rest
    /// (their tokens fire and they go back to pending), and writes every outcome. Calling it
    /// again returns at once.
    pub async fn shutdown(&self) -> ShutdownReport {
        let shared = &self.inner.shared;
        let Some(loops) = self.inner.loops.lock().take() else {
            return ShutdownReport { finished_in_grace: true, handed_back: 0 };
        };
        shared.stop.cancel();
        let _ = loops.fetch.await;
        let all = u32::try_from(shared.cfg.concurrency).unwrap_or(u32::MAX);
        let mut report = ShutdownReport { finished_in_grace: true, handed_back: 0 };
        let drained = tokio::time::timeout(shared.cfg.grace, shared.slots.acquire_many(all)).await;
        if drained.is_err() {
            // Loops that were only waiting for work still hold their slots for a moment (a
            // grace of zero sees them): only tasks still running count as cut short.
            report.handed_back = shared.in_flight.get();
            report.finished_in_grace = report.handed_back == 0;
            if report.handed_back > 0 {
                tracing::warn!(n = report.handed_back, "grace period over; cancelling running tasks");
            }
            shared.kill.cancel();
            let _ = shared.slots.acquire_many(all).await;
        }
        shared.kill.cancel();
        let _ = loops.heartbeat.await;
        drop(shared.outcomes.lock().take());
        let _ = loops.completer.await;
        report
    }
}
