//! [`MemoryBackend`]: the [`Backend`] for one process, and the direct calls a pool's worker
//! loops and a queue's `submit` make on it without going through the trait's boxed futures.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::SemaphorePermit;
use tokio::time::Instant;

use super::lease::{Contexts, Leased, Tasks};
use super::shards::Inner;
use super::state::Applied;
use super::MemoryConfig;
use crate::backend::{Backend, Completion, HeartbeatReply, LeasedTask, WhenFull};
use crate::error::QueueError;
use crate::handler::TaskContext;
use crate::status::{CancelOutcome, TaskInfo};
use crate::task::{Task, TaskId};

/// In-memory task storage: per shard, a priority queue with aging, a delay heap, and a map of
/// tasks. Cheap to clone (an `Arc`).
#[derive(Debug, Clone)]
pub struct MemoryBackend {
    inner: Arc<Inner>,
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::new(MemoryConfig::default())
    }
}

impl MemoryBackend {
    /// A backend with `cfg`. Out-of-range settings are clamped, not refused: a `capacity` of
    /// 0 holds one task, `shards` above 256 are 256.
    #[must_use]
    pub fn new(cfg: MemoryConfig) -> Self {
        Self { inner: Arc::new(Inner::new(cfg)) }
    }

    /// Stores `task` if there is room now. `Err` gives the task back when the queue is full and
    /// configured to wait (the caller then waits in [`submit_task`](Self::submit_task)).
    /// Synchronous, so that a submit that finds room has no waiting state to carry.
    #[allow(clippy::result_large_err)] // the task comes back only on the rare waiting path
    pub(crate) fn try_submit(
        &self,
        task: Task,
        span: Option<tracing::Span>,
    ) -> Result<Result<TaskId, QueueError>, (Task, Option<tracing::Span>)> {
        let inner = &*self.inner;
        match inner.slots.try_acquire() {
            Ok(permit) => Ok(self.store(permit, task, span)),
            Err(tokio::sync::TryAcquireError::NoPermits) if inner.cfg.when_full == WhenFull::Wait => Err((task, span)),
            Err(tokio::sync::TryAcquireError::NoPermits) => Ok(Err(QueueError::Full { capacity: inner.capacity })),
            Err(tokio::sync::TryAcquireError::Closed) => Ok(Err(QueueError::Closed)),
        }
    }

    /// Stores `task`, waiting for room or refusing per [`WhenFull`].
    pub(crate) async fn submit_task(&self, task: Task, span: Option<tracing::Span>) -> Result<TaskId, QueueError> {
        let inner = &*self.inner;
        let permit = match inner.cfg.when_full {
            WhenFull::Wait => inner.slots.acquire().await.map_err(|_| QueueError::Closed)?,
            WhenFull::Reject => inner.slots.try_acquire().map_err(|_| QueueError::Full { capacity: inner.capacity })?,
        };
        self.store(permit, task, span)
    }

    fn store(
        &self,
        permit: SemaphorePermit<'_>,
        task: Task,
        span: Option<tracing::Span>,
    ) -> Result<TaskId, QueueError> {
        let inner = &*self.inner;
        let res = {
            let (shard, mut st) = inner.lock_for_submit(&task);
            let res = st.insert(task, span, inner.now_ns(Instant::now()));
            shard.publish(&st);
            res
        };
        let (id, ready) = res?;
        // The slot is given back when the task leaves the queue (fetch or cancel).
        permit.forget();
        if ready {
            inner.wake_one();
        } else {
            inner.wake_all();
        }
        Ok(id)
    }

    /// Writes `done` (if any) and, when `next` is given, leases the next task into it, under
    /// one lock when the task's shard also ranks first: the step of a pool's worker loop. The
    /// lease moves the task's payload to the attempt; `done` brings it back (its second part)
    /// when the task will run again. `blank` is a context made before the lock (see
    /// [`TaskContext::blank`]), filled by the lease (taken when used). `now` is the caller's
    /// clock reading. Returns true when `done`'s lease was stale (the outcome was rejected).
    pub(crate) fn step(
        &self,
        done: Option<(Completion, Option<Arc<[u8]>>)>,
        now: Instant,
        blank: &mut Option<TaskContext>,
        next: Option<&mut Option<Leased>>,
    ) -> bool {
        let inner = &*self.inner;
        let now = inner.now_ns(now);
        let lease = |held, blank: &mut Option<TaskContext>| {
            if let Some(out) = next {
                let freed = inner.lease(1, now, held, &mut Contexts { blank, out });
                inner.release_slots(freed);
            }
        };
        let Some((done, payload)) = done else {
            lease(None, blank);
            return false;
        };
        let Some(i) = inner.shard_of(done.id) else {
            lease(None, blank);
            return true;
        };
        let shard = &inner.shards[i];
        let mut st = shard.state.lock();
        let Applied { rejected, woke, delayed, leftover } = st.apply_one(done, payload, now);
        shard.publish(&st);
        // Lease from this shard under the same lock when it ranks first; else elsewhere.
        lease(Some((i, st)), blank);
        // What a finished task leaves is dropped here, after the lock.
        drop(leftover);
        // A retry made ready now wakes another worker (rare: completions make nothing ready).
        inner.wake(woke, delayed);
        rejected.is_some()
    }

    /// Waits until a task may be ready, or `max` passed (whichever first; a `max` too long to
    /// add to the clock waits for work alone).
    pub(crate) async fn wait_for_task(&self, max: Duration) {
        self.inner.idle_wait(max).await;
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    async fn submit(&self, task: Task, span: Option<tracing::Span>) -> Result<TaskId, QueueError> {
        self.submit_task(task, span).await
    }

    async fn fetch(&self, _worker: &str, max: usize, _lease: Duration) -> Result<Vec<LeasedTask>, QueueError> {
        let mut tasks = Vec::new();
        let now = self.inner.now_ns(Instant::now());
        let freed = self.inner.lease(max, now, None, &mut Tasks(|t| tasks.push(t)));
        self.inner.release_slots(freed);
        Ok(tasks)
    }

    async fn complete(&self, batch: Vec<Completion>) -> Result<Vec<TaskId>, QueueError> {
        let inner = &*self.inner;
        let now = inner.now_ns(Instant::now());
        let mut rejected = Vec::new();
        let (mut woke, mut delayed) = (0, false);
        let mut rest = batch;
        while let Some(first) = rest.first() {
            let Some(i) = inner.shard_of(first.id) else {
                rejected.push(first.id);
                rest.swap_remove(0);
                continue;
            };
            // This shard's share of the batch, under one lock.
            let (mine, others): (Vec<_>, Vec<_>) = rest.into_iter().partition(|c| inner.shard_of(c.id) == Some(i));
            rest = others;
            let shard = &inner.shards[i];
            let mut st = shard.state.lock();
            let (r, w, d) = st.apply(mine, now);
            shard.publish(&st);
            drop(st);
            rejected.extend(r);
            woke += w;
            delayed |= d;
        }
        for _ in 0..woke.min(64) {
            inner.wake_one();
        }
        inner.wake(false, delayed);
        Ok(rejected)
    }

    async fn complete_and_fetch(
        &self,
        done: Completion,
        _worker: &str,
        max: usize,
        _lease: Duration,
    ) -> Result<(Vec<TaskId>, Vec<LeasedTask>), QueueError> {
        let inner = &*self.inner;
        let now = inner.now_ns(Instant::now());
        let mut tasks = Vec::new();
        let mut out = Tasks(|t| tasks.push(t));
        let Some(i) = inner.shard_of(done.id) else {
            let freed = inner.lease(max, now, None, &mut out);
            inner.release_slots(freed);
            return Ok((vec![done.id], tasks));
        };
        let shard = &inner.shards[i];
        let mut st = shard.state.lock();
        let Applied { rejected, woke, delayed, leftover } = st.apply_one(done, None, now);
        shard.publish(&st);
        let freed = inner.lease(max, now, Some((i, st)), &mut out);
        inner.release_slots(freed);
        drop(leftover);
        inner.wake(woke, delayed);
        Ok((rejected.into_iter().collect(), tasks))
    }

    async fn heartbeat(&self, leases: &[(TaskId, i64)], _lease: Duration) -> Result<HeartbeatReply, QueueError> {
        let inner = &*self.inner;
        let mut lost = Vec::new();
        for (i, shard) in inner.shards.iter().enumerate() {
            let mine: Vec<_> = leases.iter().copied().filter(|(id, _)| inner.shard_of(*id) == Some(i)).collect();
            if !mine.is_empty() {
                lost.extend(shard.state.lock().lost(&mine));
            }
        }
        // Ids no shard can hold are lost too.
        lost.extend(leases.iter().filter(|(id, _)| inner.shard_of(*id).is_none()).map(|(id, _)| *id));
        Ok(HeartbeatReply { lost, cancel_requested: Vec::new() })
    }

    async fn rescue_expired(&self) -> Result<u64, QueueError> {
        // Leases never expire in one process: the worker and the queue live and die together.
        Ok(0)
    }

    async fn wait_for_work(&self, max: Duration) {
        self.wait_for_task(max).await;
    }

    async fn status(&self, id: TaskId) -> Result<Option<TaskInfo>, QueueError> {
        Ok(self.inner.shard_of(id).and_then(|i| self.inner.shards[i].state.lock().info(id)))
    }

    async fn cancel(&self, id: TaskId) -> Result<CancelOutcome, QueueError> {
        let Some(i) = self.inner.shard_of(id) else { return Ok(CancelOutcome::NotFound) };
        let shard = &self.inner.shards[i];
        let (outcome, freed) = {
            let mut st = shard.state.lock();
            let r = st.cancel(id, self.inner.now_ns(Instant::now()));
            shard.publish(&st);
            r
        };
        self.inner.release_slots(usize::from(freed));
        Ok(outcome)
    }

    async fn depth(&self) -> Result<[u64; 5], QueueError> {
        let mut d = [0u64; 5];
        for shard in &*self.inner.shards {
            for (a, b) in d.iter_mut().zip(shard.state.lock().depth()) {
                *a += b;
            }
        }
        Ok(d)
    }

    async fn cleanup(&self, older_than: Duration) -> Result<u64, QueueError> {
        let now = self.inner.now_ns(Instant::now());
        Ok(self.inner.shards.iter().map(|s| s.state.lock().purge(now, older_than, 0)).sum())
    }

    fn in_process(&self) -> bool {
        true
    }
}
