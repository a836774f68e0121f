//! Configuration and construction of a worker pool.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::handle::WorkerPool;
use crate::backoff::Backoff;
use crate::handler::TaskHandler;
use crate::queue::TaskQueue;

/// Numbers that shape a pool; every field has a documented default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolConfig {
    /// Tasks run at once. Default 8.
    pub concurrency: usize,
    /// Most tasks leased by one fetch. Default 64.
    pub fetch_batch: usize,
    /// How long a lease lasts without a heartbeat. Default 30 s.
    pub lease: Duration,
    /// How often leases are extended. Default 10 s (a third of the lease).
    pub heartbeat: Duration,
    /// How long an idle pool waits before polling again when no notification arrives.
    /// Default 1 s.
    pub poll_interval: Duration,
    /// How often expired leases of dead workers are rescued. Default 5 s.
    pub rescue_interval: Duration,
    /// On shutdown, how long running tasks may take to finish before they are cancelled and
    /// handed back. Default 10 s.
    pub grace: Duration,
    /// Most outcomes written in one batch. Default 512.
    pub completion_batch: usize,
    /// This worker's name in leases. Default `worker-<pid>-<n>`.
    pub worker_id: String,
}

impl Default for PoolConfig {
    fn default() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self {
            concurrency: 8,
            fetch_batch: 64,
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(10),
            poll_interval: Duration::from_secs(1),
            rescue_interval: Duration::from_secs(5),
            grace: Duration::from_secs(10),
            completion_batch: 512,
            worker_id: format!("worker-{}-{n}", std::process::id()),
        }
    }
}

/// Builds a [`WorkerPool`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use perfstack_task_queue::{handler_fn, Task, TaskContext, TaskQueue, TaskState, WorkerPool};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let queue = TaskQueue::memory();
/// let pool = WorkerPool::builder(&queue)
///     .concurrency(4)
///     .handler("add", handler_fn(|_ctx: TaskContext, (a, b): (i64, i64)| async move {
///         assert_eq!(a + b, 3);
///         Ok(())
///     }))
///     .start();
/// let id = queue.submit(Task::new("add", &(1, 2))?).await?;
/// while queue.status(id).await?.map(|i| i.state) != Some(TaskState::Completed) {
///     tokio::time::sleep(Duration::from_millis(1)).await;
/// }
/// pool.shutdown().await;
/// # Ok(()) }
/// ```
#[must_use]
#[derive(Debug)]
pub struct WorkerPoolBuilder {
    pub(super) queue: TaskQueue,
    pub(super) cfg: PoolConfig,
    pub(super) handlers: HashMap<String, Registered>,
}

#[derive(Debug, Clone)]
pub(super) struct Registered {
    pub(super) handler: Arc<dyn TaskHandler>,
    pub(super) backoff: Option<Arc<dyn Backoff>>,
}

impl WorkerPoolBuilder {
    pub(super) fn new(queue: &TaskQueue) -> Self {
        Self { queue: queue.clone(), cfg: PoolConfig::default(), handlers: HashMap::new() }
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, cfg: PoolConfig) -> Self {
        self.cfg = cfg;
        self
    }

    /// Tasks run at once (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.cfg.concurrency = n.max(1);
        self
    }

    /// Most tasks leased per fetch (at least 1).
    pub fn fetch_batch(mut self, n: usize) -> Self {
        self.cfg.fetch_batch = n.max(1);
        self
    }

    /// Lease length; the heartbeat becomes a third of it.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.cfg.lease = lease;
        self.cfg.heartbeat = lease / 3;
        self
    }

    /// Idle polling interval (the fallback when notifications are missed).
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.cfg.poll_interval = d;
        self
    }

    /// How often expired leases are rescued.
    pub fn rescue_interval(mut self, d: Duration) -> Self {
        self.cfg.rescue_interval = d;
        self
    }

    /// Shutdown grace period.
    pub fn grace(mut self, d: Duration) -> Self {
        self.cfg.grace = d;
        self
    }

    /// This worker's name.
    pub fn worker_id(mut self, id: impl Into<String>) -> Self {
        self.cfg.worker_id = id.into();
        self
    }

    /// Registers the handler for `kind`.
    pub fn handler(mut self, kind: impl Into<String>, handler: impl TaskHandler) -> Self {
        self.handlers.insert(kind.into(), Registered { handler: Arc::new(handler), backoff: None });
        self
    }

    /// Registers the handler for `kind` with its own retry schedule, which overrides the one
    /// stored with each task of that kind.
    pub fn handler_with_backoff(
        mut self,
        kind: impl Into<String>,
        handler: impl TaskHandler,
        backoff: impl Backoff + 'static,
    ) -> Self {
        self.handlers.insert(kind.into(), Registered { handler: Arc::new(handler), backoff: Some(Arc::new(backoff)) });
        self
    }

    /// Starts fetching and running tasks on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn start(self) -> WorkerPool {
        WorkerPool::start(self)
    }
}
