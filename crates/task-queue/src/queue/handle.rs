//! [`TaskQueue`]: the front door for producers.

use std::sync::Arc;

use super::builder::TaskQueueBuilder;
use super::stats::{Counters, QueueStats};
use crate::backend::memory::{MemoryBackend, MemoryConfig};
use crate::backend::Backend;
use crate::error::QueueError;
use crate::priority::{from_level, label};
use crate::status::{CancelOutcome, TaskInfo};
use crate::task::{Task, TaskId};

/// Where a submit stands after its synchronous part.
enum Submitted<'a> {
    Done(Result<TaskId, QueueError>),
    Waiting(std::pin::Pin<Box<dyn std::future::Future<Output = Result<TaskId, QueueError>> + Send + 'a>>),
}

/// Submits, inspects and cancels tasks. Cheap to clone; every clone shares the backend and the
/// counters.
///
/// # Examples
///
/// ```
/// use perfstack_task_queue::{Task, TaskQueue, TaskState};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let queue = TaskQueue::memory();
/// let id = queue.submit(Task::new("greet", "world")?).await?;
/// assert_eq!(queue.status(id).await?.map(|i| i.state), Some(TaskState::Pending));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TaskQueue {
    pub(crate) inner: Arc<QueueInner>,
}

#[derive(Debug)]
pub(crate) struct QueueInner {
    pub(crate) backend: Arc<dyn Backend>,
    /// The label `name` on every metric of this queue and its pools.
    name: Arc<str>,
    /// The backend itself when it is a [`MemoryBackend`]: submits and a pool's worker loops
    /// call it directly, without the trait's boxed futures (an allocation per call).
    pub(crate) memory: Option<MemoryBackend>,
    pub(crate) max_payload: usize,
    pub(crate) counters: Counters,
}

impl TaskQueue {
    /// A queue over `backend` with the default settings: named `"default"`, payloads up to
    /// [`DEFAULT_MAX_PAYLOAD_BYTES`](crate::DEFAULT_MAX_PAYLOAD_BYTES).
    pub fn new(backend: impl Backend) -> Self {
        Self::builder(backend).build()
    }

    /// A builder for a queue over `backend`, to name it or set its payload limit.
    pub fn builder(backend: impl Backend) -> TaskQueueBuilder {
        TaskQueueBuilder::new(Arc::new(backend))
    }

    /// A queue named `"default"` over a shared backend, refusing payloads larger than
    /// `max_payload_bytes`.
    pub fn with_limit(backend: Arc<dyn Backend>, max_payload_bytes: usize) -> Self {
        TaskQueueBuilder::new(backend).max_payload_bytes(max_payload_bytes).build()
    }

    pub(super) fn assemble(backend: Arc<dyn Backend>, name: Arc<str>, max_payload: usize) -> Self {
        let memory = (&*backend as &dyn std::any::Any).downcast_ref::<MemoryBackend>().cloned();
        Self { inner: Arc::new(QueueInner { backend, name, memory, max_payload, counters: Counters::default() }) }
    }

    /// An in-memory queue with the default settings.
    #[must_use]
    pub fn memory() -> Self {
        Self::new(MemoryBackend::new(MemoryConfig::default()))
    }

    /// The backend.
    #[must_use]
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.backend
    }

    /// The queue's name: the label `name` on its metrics and its pools' metrics.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub(crate) fn name_arc(&self) -> &Arc<str> {
        &self.inner.name
    }

    /// Submits a task; the current `tracing` span becomes the parent of the task's span when
    /// the backend runs in this process.
    ///
    /// # Errors
    ///
    /// [`QueueError::PayloadTooLarge`], [`QueueError::InvalidKind`], [`QueueError::Duplicate`],
    /// [`QueueError::Full`] (when configured to refuse), or a backend error.
    pub async fn submit(&self, task: Task) -> Result<TaskId, QueueError> {
        match self.submit_now(task) {
            Submitted::Done(res) => res,
            Submitted::Waiting(fut) => {
                let res = fut.await;
                self.count_submit(&res);
                res
            }
        }
    }

    /// The synchronous part of a submit: in memory, a submit that finds room (or is refused)
    /// is done here; one that must wait for room, and any other backend's, is a boxed future.
    /// So the future of `submit` holds only the task and that box: a future is moved, byte by
    /// byte, each time it is handed on.
    fn submit_now(&self, task: Task) -> Submitted<'_> {
        if let Err(e) = task.check(self.inner.max_payload) {
            self.count_refused();
            return Submitted::Done(Err(e));
        }
        let span = Some(tracing::Span::current());
        match &self.inner.memory {
            Some(memory) => match memory.try_submit(task, span) {
                Ok(res) => {
                    self.count_submit(&res);
                    Submitted::Done(res)
                }
                Err((task, span)) => Submitted::Waiting(Box::pin(memory.submit_task(task, span))),
            },
            None => Submitted::Waiting(self.inner.backend.submit(task, span)),
        }
    }

    fn count_refused(&self) {
        self.inner.counters.refused.add(1);
        metrics::counter!("perfstack_task_queue_refused_total", "name" => Arc::clone(&self.inner.name)).increment(1);
    }

    fn count_submit<T>(&self, res: &Result<T, QueueError>) {
        if res.is_ok() {
            self.inner.counters.submitted.add(1);
        } else {
            self.count_refused();
        }
    }

    /// The task's state, or `None` when unknown (never submitted, or cleaned up).
    ///
    /// # Errors
    ///
    /// A backend error.
    pub async fn status(&self, id: TaskId) -> Result<Option<TaskInfo>, QueueError> {
        self.inner.backend.status(id).await
    }

    /// Cancels a task: a pending one is removed, a running one sees its cancellation token fire.
    ///
    /// # Errors
    ///
    /// A backend error.
    pub async fn cancel(&self, id: TaskId) -> Result<CancelOutcome, QueueError> {
        self.inner.backend.cancel(id).await
    }

    /// A snapshot: depth per priority from the backend, and this process's counters.
    ///
    /// # Errors
    ///
    /// A backend error while reading the depth.
    pub async fn stats(&self) -> Result<QueueStats, QueueError> {
        let depth = self.inner.backend.depth().await?;
        for (i, d) in depth.iter().enumerate() {
            let p = from_level(i64::try_from(i).unwrap_or(0));
            #[allow(clippy::cast_precision_loss)]
            metrics::gauge!(
                "perfstack_task_queue_depth_tasks",
                "name" => Arc::clone(&self.inner.name), "priority" => label(p)
            )
            .set(*d as f64);
        }
        Ok(self.inner.counters.snapshot(depth))
    }
}
