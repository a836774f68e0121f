//! Construction of a worker pool.

use std::sync::Arc;
use std::time::Duration;

use super::config::{check_name, PoolConfig};
use super::handle::WorkerPool;
use super::handlers::{Handlers, Registered};
use crate::backoff::Backoff;
use crate::error::ConfigError;
use crate::handler::TaskHandler;
use crate::queue::TaskQueue;

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
///     .start()?;
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
    pub(super) handlers: Handlers,
}

impl WorkerPoolBuilder {
    pub(super) fn new(queue: &TaskQueue) -> Self {
        Self { queue: queue.clone(), cfg: PoolConfig::default(), handlers: Handlers::new() }
    }

    /// Replaces the whole configuration (checked by [`WorkerPoolBuilder::start`], as the
    /// setters' values are).
    pub fn config(mut self, cfg: PoolConfig) -> Self {
        self.cfg = cfg;
        self
    }

    /// Tasks run at once: 1 to [`PoolConfig::MAX_CONCURRENCY`].
    pub fn concurrency(mut self, n: usize) -> Self {
        self.cfg.concurrency = n;
        self
    }

    /// Most tasks leased per fetch: 1 to [`PoolConfig::MAX_BATCH`].
    pub fn fetch_batch(mut self, n: usize) -> Self {
        self.cfg.fetch_batch = n;
        self
    }

    /// Lease length, [`PoolConfig::MIN_INTERVAL`] to [`PoolConfig::MAX_INTERVAL`]; the
    /// heartbeat becomes a third of it (so the lease must be at least 3 ms).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.cfg.lease = lease;
        self.cfg.heartbeat = lease / 3;
        self
    }

    /// Idle polling interval (the fallback when notifications are missed), 1 ms to one day.
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.cfg.poll_interval = d;
        self
    }

    /// How often expired leases are rescued, 1 ms to one day.
    pub fn rescue_interval(mut self, d: Duration) -> Self {
        self.cfg.rescue_interval = d;
        self
    }

    /// Shutdown grace period; any duration.
    pub fn grace(mut self, d: Duration) -> Self {
        self.cfg.grace = d;
        self
    }

    /// This worker's name: 1 to 200 bytes, no NUL.
    pub fn worker_id(mut self, id: impl Into<String>) -> Self {
        self.cfg.worker_id = id.into();
        self
    }

    /// Registers the handler for `kind` (a kind is 1 to 200 bytes, no NUL; checked by
    /// [`WorkerPoolBuilder::start`]).
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

    /// Checks the configuration ([`PoolConfig::validate`]) and the registered kinds, then
    /// starts fetching and running tasks on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] naming the setting that cannot work (for example a concurrency of
    /// 0, or a heartbeat not shorter than the lease), or [`ConfigError::InvalidName`] for a
    /// handler registered for a kind no task can have.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn start(self) -> Result<WorkerPool, ConfigError> {
        self.cfg.validate()?;
        for kind in self.handlers.keys() {
            check_name("handler kind", kind)?;
        }
        Ok(WorkerPool::start(self))
    }
}
