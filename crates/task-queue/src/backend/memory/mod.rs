//! The in-memory backend: one process, no durability, bounded with backpressure.

mod ready;
mod state;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use self::state::State;
use crate::aging::Aging;
use crate::backend::{Backend, Completion, HeartbeatReply, LeasedTask};
use crate::error::QueueError;
use crate::status::{CancelOutcome, TaskInfo};
use crate::task::{Task, TaskId};

/// What `submit` does when the bounded queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Wait for room (backpressure on the producer).
    #[default]
    Wait,
    /// Fail at once with [`QueueError::Full`].
    Reject,
}

/// Settings of the in-memory backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryConfig {
    /// Most tasks waiting (pending or delayed, not counting retries) at once. Default 10,000.
    pub capacity: usize,
    /// Wait or refuse when full. Default: wait.
    pub when_full: WhenFull,
    /// Priority aging. Default: one second per level.
    pub aging: Aging,
    /// Finished tasks are kept this long for `status`. Default: 10 minutes.
    pub retention: Duration,
    /// At most this many finished tasks are kept for `status`. Default: 10,000. They are kept
    /// as small records in their own map, apart from the live tasks; a larger number still costs
    /// memory and some cache misses when the oldest are purged.
    pub retention_max: usize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            when_full: WhenFull::Wait,
            aging: Aging::default(),
            retention: Duration::from_secs(600),
            retention_max: 10_000,
        }
    }
}

/// In-memory task storage: a priority heap with aging, a delay heap, and a map of tasks.
/// Cheap to clone (an `Arc`).
#[derive(Debug, Clone)]
pub struct MemoryBackend {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    slots: Semaphore,
    notify: Notify,
    cfg: MemoryConfig,
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::new(MemoryConfig::default())
    }
}

impl MemoryBackend {
    /// A backend with `cfg`.
    #[must_use]
    pub fn new(cfg: MemoryConfig) -> Self {
        let capacity = cfg.capacity.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::new(Instant::now(), cfg)),
                slots: Semaphore::new(capacity),
                notify: Notify::new(),
                cfg,
            }),
        }
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    async fn submit(&self, task: Task, span: Option<tracing::Span>) -> Result<TaskId, QueueError> {
        let permit = match self.inner.cfg.when_full {
            WhenFull::Wait => self.inner.slots.acquire().await.map_err(|_| QueueError::Closed)?,
            WhenFull::Reject => {
                self.inner.slots.try_acquire().map_err(|_| QueueError::Full { capacity: self.inner.cfg.capacity })?
            }
        };
        let res = self.inner.state.lock().insert(task, span, Instant::now());
        match res {
            Ok((id, ready)) => {
                // The slot is given back when the task leaves the queue (fetch or cancel).
                permit.forget();
                if ready {
                    self.inner.notify.notify_one();
                }
                Ok(id)
            }
            Err(e) => Err(e),
        }
    }

    async fn fetch(&self, _worker: &str, max: usize, _lease: Duration) -> Result<Vec<LeasedTask>, QueueError> {
        let (out, freed) = self.inner.state.lock().take(max, Instant::now());
        if freed > 0 {
            self.inner.slots.add_permits(freed);
        }
        Ok(out)
    }

    async fn complete(&self, batch: Vec<Completion>) -> Result<Vec<TaskId>, QueueError> {
        let (rejected, woke) = self.inner.state.lock().apply(batch, Instant::now());
        for _ in 0..woke.min(64) {
            self.inner.notify.notify_one();
        }
        Ok(rejected)
    }

    async fn complete_and_fetch(
        &self,
        done: Completion,
        _worker: &str,
        max: usize,
        _lease: Duration,
    ) -> Result<(Vec<TaskId>, Vec<LeasedTask>), QueueError> {
        let now = Instant::now();
        let (applied, out, freed) = {
            let mut st = self.inner.state.lock();
            let applied = st.apply_one(done, now);
            let (out, freed) = st.take(max, now);
            (applied, out, freed)
        };
        // What the finished task leaves is dropped here, after the lock.
        let state::Applied { rejected, woke, leftover } = applied;
        drop(leftover);
        if freed > 0 {
            self.inner.slots.add_permits(freed);
        }
        // A retry made ready now wakes another worker (rare: completions make nothing ready).
        if woke {
            self.inner.notify.notify_one();
        }
        Ok((rejected.into_iter().collect(), out))
    }

    async fn heartbeat(&self, leases: &[(TaskId, i64)], _lease: Duration) -> Result<HeartbeatReply, QueueError> {
        Ok(HeartbeatReply { lost: self.inner.state.lock().lost(leases), cancel_requested: Vec::new() })
    }

    async fn rescue_expired(&self) -> Result<u64, QueueError> {
        // Leases never expire in one process: the worker and the queue live and die together.
        Ok(0)
    }

    async fn wait_for_work(&self, max: Duration) {
        let notified = self.inner.notify.notified();
        let now = Instant::now();
        let deadline = {
            let st = self.inner.state.lock();
            if st.has_ready(now) {
                return;
            }
            st.next_due().map_or(now + max, |d| d.min(now + max))
        };
        tokio::select! {
            () = notified => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }

    async fn status(&self, id: TaskId) -> Result<Option<TaskInfo>, QueueError> {
        Ok(self.inner.state.lock().info(id))
    }

    async fn cancel(&self, id: TaskId) -> Result<CancelOutcome, QueueError> {
        let (outcome, freed) = self.inner.state.lock().cancel(id, Instant::now());
        if freed {
            self.inner.slots.add_permits(1);
        }
        Ok(outcome)
    }

    async fn depth(&self) -> Result<[u64; 5], QueueError> {
        Ok(self.inner.state.lock().depth())
    }

    async fn cleanup(&self, older_than: Duration) -> Result<u64, QueueError> {
        Ok(self.inner.state.lock().purge(Instant::now(), older_than, 0))
    }

    fn in_process(&self) -> bool {
        true
    }
}
