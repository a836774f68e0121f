//! The [`Backend`] trait, the storage seam (where tasks wait, who holds them, how outcomes are
//! written), and the values that cross it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::backoff::BackoffPolicy;
use crate::error::QueueError;
use crate::priority::Priority;
use crate::status::{CancelOutcome, TaskInfo};
use crate::task::{Task, TaskId};

/// A task handed to a worker together with its lease.
#[derive(Debug)]
pub struct LeasedTask {
    /// The task.
    pub id: TaskId,
    /// Its kind.
    pub kind: Arc<str>,
    /// JSON payload.
    pub payload: Arc<[u8]>,
    /// Its priority.
    pub priority: Priority,
    /// This attempt's number (1-based).
    pub attempt: u32,
    /// Maximum attempts.
    pub max_attempts: u32,
    /// Retry schedule.
    pub backoff: BackoffPolicy,
    /// Per-attempt timeout.
    pub timeout: Option<Duration>,
    /// The fencing token of this lease: any write about this attempt must present it, and a
    /// newer lease makes it stale.
    pub fence: i64,
    /// Fires when the task is cancelled or its lease is lost.
    pub cancel: CancellationToken,
    /// The span that was current when the task was submitted (same-process backends only).
    pub span: Option<tracing::Span>,
    /// How long the task waited between becoming ready and this lease.
    pub waited: Duration,
}

/// How an attempt ended, as written back to the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Success.
    Completed,
    /// Failed; run again after `delay`.
    Retry {
        /// Backoff delay.
        delay: Duration,
        /// The error.
        error: String,
    },
    /// Failed for good: dead-letter, error kept.
    Dead {
        /// The error.
        error: String,
    },
    /// Stopped because it was cancelled.
    Cancelled,
    /// Not run to the end because the worker is shutting down: back to pending, attempt not
    /// counted.
    Released,
}

/// One outcome for one lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The task.
    pub id: TaskId,
    /// The fencing token of the lease that ran the attempt.
    pub fence: i64,
    /// What happened.
    pub outcome: Outcome,
}

/// What a heartbeat learned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeartbeatReply {
    /// Leases that are no longer ours (expired and rescued, or fenced out).
    pub lost: Vec<TaskId>,
    /// Running tasks whose cancellation was requested.
    pub cancel_requested: Vec<TaskId>,
}

/// Where tasks live. Implemented by [`MemoryBackend`](super::memory::MemoryBackend) and, with
/// the `postgres` feature, `PostgresBackend`. (`Any`, which every `'static` type is, lets a
/// queue recognise the memory backend and call it without the trait's boxed futures.)
#[async_trait]
pub trait Backend: std::any::Any + Send + Sync + std::fmt::Debug {
    /// Stores a new task (the submit-time checks have passed) and returns its id.
    async fn submit(&self, task: Task, span: Option<tracing::Span>) -> Result<TaskId, QueueError>;

    /// Leases up to `max` ready tasks for `lease`, best first (priority with aging, then run-at).
    async fn fetch(&self, worker: &str, max: usize, lease: Duration) -> Result<Vec<LeasedTask>, QueueError>;

    /// Writes a batch of outcomes. Returns the ids whose fencing token was stale: those writes
    /// were rejected (another worker owns the task now, or it was cancelled).
    async fn complete(&self, batch: Vec<Completion>) -> Result<Vec<TaskId>, QueueError>;

    /// Writes one outcome, then leases up to `max` tasks: the worker-loop step of in-process
    /// backends, which can do both under one lock. Returns the rejected ids (as
    /// [`Backend::complete`]) and the leased tasks. The default calls `complete` then `fetch`.
    async fn complete_and_fetch(
        &self,
        done: Completion,
        worker: &str,
        max: usize,
        lease: Duration,
    ) -> Result<(Vec<TaskId>, Vec<LeasedTask>), QueueError> {
        let rejected = self.complete(vec![done]).await?;
        let tasks = self.fetch(worker, max, lease).await?;
        Ok((rejected, tasks))
    }

    /// Extends the leases of running tasks.
    async fn heartbeat(&self, leases: &[(TaskId, i64)], lease: Duration) -> Result<HeartbeatReply, QueueError>;

    /// Puts tasks whose lease expired back to ready (or dead-letter when out of attempts).
    /// Returns how many were rescued.
    async fn rescue_expired(&self) -> Result<u64, QueueError>;

    /// Waits until work may be available, or `max` elapsed.
    async fn wait_for_work(&self, max: Duration);

    /// A task's current state.
    async fn status(&self, id: TaskId) -> Result<Option<TaskInfo>, QueueError>;

    /// Cancels a task: a pending task is removed, a running one has its token fired.
    async fn cancel(&self, id: TaskId) -> Result<CancelOutcome, QueueError>;

    /// Ready or delayed tasks per priority, `Low` first.
    async fn depth(&self) -> Result<[u64; 5], QueueError>;

    /// Deletes finished tasks that finished more than `older_than` ago; returns how many.
    async fn cleanup(&self, older_than: Duration) -> Result<u64, QueueError>;

    /// True when a fetch is a cheap in-process call. A pool then runs one worker loop per
    /// concurrency slot, each fetching for itself; otherwise one fetcher leases batches for all
    /// slots (fewer round trips). Default false.
    fn in_process(&self) -> bool {
        false
    }

    /// A stream of running tasks whose cancellation was requested, for backends that can push
    /// them (PostgreSQL: LISTEN/NOTIFY). A pool subscribes and fires the tasks' tokens at once;
    /// the heartbeat still catches anything missed. Default `None`: the heartbeat only.
    fn cancellations(&self) -> Option<tokio::sync::broadcast::Receiver<TaskId>> {
        None
    }
}
