//! The in-memory backend: one process, no durability, bounded with backpressure.

mod config;
mod ready;
mod state;

pub use config::{MemoryConfig, WhenFull};

use std::cell::Cell;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::{Mutex, MutexGuard};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use self::state::State;
use crate::aging::Aging;
use crate::backend::{Backend, Completion, HeartbeatReply, LeasedTask};
use crate::error::QueueError;
use crate::status::{CancelOutcome, TaskInfo};
use crate::task::{Task, TaskId};

/// In-memory task storage: per shard, a priority queue with aging, a delay heap, and a map of
/// tasks. Cheap to clone (an `Arc`).
#[derive(Debug, Clone)]
pub struct MemoryBackend {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shards: Box<[Shard]>,
    slots: Semaphore,
    notify: Notify,
    cfg: MemoryConfig,
    epoch: Instant,
    /// Hashes unique keys to their shard.
    hasher: std::collections::hash_map::RandomState,
}

#[derive(Debug)]
struct Shard {
    state: Mutex<State>,
    /// The sort key of the shard's first ready task (`i64::MAX` when none), published after
    /// every change under the lock.
    head: AtomicI64,
    /// When its first delayed task is due, in ns from the epoch (`i64::MAX` when none).
    due: AtomicI64,
}

impl Shard {
    /// Publishes what `st` now holds; called with the lock held.
    fn publish(&self, st: &State) {
        let (head, due) = st.heads();
        self.head.store(head, Ordering::Release);
        self.due.store(due, Ordering::Release);
    }

    /// The key this shard would serve next if leased at `now_ns`: its ready head, or for a due
    /// delayed task the best key it can have once promoted.
    fn rank(&self, now_ns: i64, aging: &Aging) -> i64 {
        // `due` first: `publish` stores `head` then `due`, so a reader that sees a new `due`
        // also sees the `head` stored with it (a task promoted from delayed to ready is in one
        // of the two, never in neither).
        let due = self.due.load(Ordering::Acquire);
        let head = self.head.load(Ordering::Acquire);
        if due <= now_ns {
            head.min(aging.sort_key(due, crate::Priority::Critical))
        } else {
            head
        }
    }
}

/// How far behind the best shard's first task (in sort-key nanoseconds) a busy-shard fallback
/// may serve: tasks that became ready this close together are in no meaningful order.
const FALLBACK_SLACK_NS: i64 = 1_000_000;

thread_local! {
    /// The shard this thread submits to next; each thread starts at its own place and moves
    /// one on per submit, so producers on different threads seldom meet on one lock.
    static NEXT_SHARD: Cell<usize> = Cell::new(thread_seed());
}

fn thread_seed() -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::thread::current().id().hash(&mut h);
    // Truncation is fine: any value spreads threads over shards.
    #[allow(clippy::cast_possible_truncation)]
    let seed = h.finish() as usize;
    seed
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
        let n = match cfg.shards {
            0 => std::thread::available_parallelism().map_or(4, |p| p.get() * 2).clamp(1, 16),
            n => n.clamp(1, 256),
        };
        let per_shard = MemoryConfig { retention_max: cfg.retention_max.div_ceil(n), ..cfg };
        let epoch = Instant::now();
        let step = i64::try_from(n).unwrap_or(1);
        let shards = (0..step)
            .map(|i| Shard {
                state: Mutex::new(State::new(epoch, per_shard, i + 1, step)),
                head: AtomicI64::new(i64::MAX),
                due: AtomicI64::new(i64::MAX),
            })
            .collect();
        Self {
            inner: Arc::new(Inner {
                shards,
                slots: Semaphore::new(capacity),
                notify: Notify::new(),
                cfg,
                epoch,
                hasher: std::collections::hash_map::RandomState::new(),
            }),
        }
    }
}

impl Inner {
    /// The index of the shard that holds task `id`, if `id` can be one of ours.
    fn shard_of(&self, id: TaskId) -> Option<usize> {
        Some(usize::try_from(id.0.checked_sub(1)?).ok()? % self.shards.len())
    }

    /// The shard for `task`, locked: its unique key's shard; else this thread's next shard, or
    /// the one after it when another thread holds that lock (any shard will do).
    fn lock_for_submit(&self, task: &Task) -> (&Shard, MutexGuard<'_, State>) {
        let first = self.submit_shard(task);
        if task.unique_key.is_none() && self.shards.len() > 1 {
            if let Some(g) = first.state.try_lock() {
                return (first, g);
            }
            let next = self.submit_shard(task);
            if let Some(g) = next.state.try_lock() {
                return (next, g);
            }
        }
        (first, first.state.lock())
    }

    fn submit_shard(&self, task: &Task) -> &Shard {
        let n = self.shards.len();
        let i = match &task.unique_key {
            // Every task with this key lands in one shard, which checks for duplicates.
            #[allow(clippy::cast_possible_truncation)]
            Some(k) => self.hasher.hash_one(k) as usize % n,
            None => NEXT_SHARD.with(|c| {
                let i = c.get();
                c.set(i.wrapping_add(1));
                i % n
            }),
        };
        &self.shards[i]
    }

    fn now_ns(&self, now: Instant) -> i64 {
        i64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(i64::MAX / 2)
    }

    /// The shard to lease from at `now`, and the best rank among the others (the bound it
    /// must not serve past); `None` when no shard has work.
    fn pick(&self, now: Instant) -> Option<(usize, i64)> {
        self.pick_except(now, usize::MAX)
    }

    /// [`pick`](Self::pick) leaving out shard `skip`.
    fn pick_except(&self, now: Instant, skip: usize) -> Option<(usize, i64)> {
        let now_ns = self.now_ns(now);
        let (mut best, mut best_rank, mut second) = (0, i64::MAX, i64::MAX);
        for (i, sh) in self.shards.iter().enumerate().filter(|(i, _)| *i != skip) {
            let r = sh.rank(now_ns, &self.cfg.aging);
            if r < best_rank {
                second = best_rank;
                (best, best_rank) = (i, r);
            } else if r < second {
                second = r;
            }
        }
        (best_rank != i64::MAX).then_some((best, second))
    }

    /// Leases up to `max` tasks, best ranked first across shards. `first` is a shard whose lock
    /// the caller holds (as `held`) and may serve from, to save a second lock.
    fn lease(
        &self,
        max: usize,
        now: Instant,
        mut held: Option<(usize, MutexGuard<'_, State>)>,
    ) -> (Vec<LeasedTask>, usize) {
        let mut out: Vec<LeasedTask> = Vec::new();
        let mut freed = 0;
        // A worker's snapshot of the heads can be overtaken by other workers; a few rounds
        // settle it, and the last round serves from the best shard whatever the bound.
        let rounds = self.shards.len() * 2 + 1;
        for round in 0..rounds {
            let Some((best, second)) = self.pick(now) else { break };
            let last = round + 1 == rounds;
            let (i, bound, mut st) = match held.take() {
                Some((h, guard)) if h == best => (best, if last { i64::MAX } else { second }, guard),
                other => {
                    // Never hold one shard's lock while taking another's: two workers doing
                    // so in opposite order would deadlock.
                    drop(other);
                    self.lock_for_lease(now, best, if last { i64::MAX } else { second })
                }
            };
            let shard = &self.shards[i];
            let (got, f) = st.take(max - out.len(), now, bound);
            shard.publish(&st);
            drop(st);
            freed += f;
            if out.is_empty() {
                out = got;
            } else {
                out.extend(got);
            }
            if out.len() >= max {
                break;
            }
        }
        (out, freed)
    }

    /// Locks shard `best` to lease below `bound`. When its lock is busy (mostly another
    /// worker leasing its first task), the next-best shard instead, if its lock is free and its
    /// first task ranks within [`FALLBACK_SLACK_NS`] of `best`'s: that task would come next but
    /// for a few just submitted around the same time. A task ranked further back waits, so
    /// priority order and aging hold to within that slack. Returns the shard, the bound to
    /// lease under and the guard.
    fn lock_for_lease(&self, now: Instant, best: usize, bound: i64) -> (usize, i64, MutexGuard<'_, State>) {
        if let Some(g) = self.shards[best].state.try_lock() {
            return (best, bound, g);
        }
        let now_ns = self.now_ns(now);
        let slack = self.shards[best].rank(now_ns, &self.cfg.aging).saturating_add(FALLBACK_SLACK_NS);
        if let Some((j, next)) = self.pick_except(now, best) {
            if self.shards[j].rank(now_ns, &self.cfg.aging) <= slack {
                if let Some(g) = self.shards[j].state.try_lock() {
                    return (j, next.min(slack), g);
                }
            }
        }
        (best, bound, self.shards[best].state.lock())
    }

    fn has_ready(&self, now: Instant) -> bool {
        let now_ns = self.now_ns(now);
        // `due` before `head`, as in `Shard::rank`.
        self.shards.iter().any(|sh| {
            let due = sh.due.load(Ordering::Acquire);
            sh.head.load(Ordering::Acquire) != i64::MAX || due <= now_ns
        })
    }

    fn next_due(&self) -> Option<Instant> {
        let due = self.shards.iter().map(|sh| sh.due.load(Ordering::Acquire)).min()?;
        (due != i64::MAX).then(|| self.epoch + Duration::from_nanos(u64::try_from(due).unwrap_or(0)))
    }

    fn release_slots(&self, freed: usize) {
        if freed > 0 {
            self.slots.add_permits(freed);
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
        let res = {
            let (shard, mut st) = self.inner.lock_for_submit(&task);
            let res = st.insert(task, span, Instant::now());
            shard.publish(&st);
            res
        };
        let (id, ready) = res?;
        // The slot is given back when the task leaves the queue (fetch or cancel).
        permit.forget();
        if ready {
            self.inner.notify.notify_one();
        }
        Ok(id)
    }

    async fn fetch(&self, _worker: &str, max: usize, _lease: Duration) -> Result<Vec<LeasedTask>, QueueError> {
        let (out, freed) = self.inner.lease(max, Instant::now(), None);
        self.inner.release_slots(freed);
        Ok(out)
    }

    async fn complete(&self, batch: Vec<Completion>) -> Result<Vec<TaskId>, QueueError> {
        let now = Instant::now();
        let mut rejected = Vec::new();
        let mut woke = 0;
        let mut rest = batch;
        while let Some(first) = rest.first() {
            let Some(i) = self.inner.shard_of(first.id) else {
                rejected.push(first.id);
                rest.swap_remove(0);
                continue;
            };
            // This shard's share of the batch, under one lock.
            let (mine, others): (Vec<_>, Vec<_>) = rest.into_iter().partition(|c| self.inner.shard_of(c.id) == Some(i));
            rest = others;
            let shard = &self.inner.shards[i];
            let mut st = shard.state.lock();
            let (r, w) = st.apply(mine, now);
            shard.publish(&st);
            drop(st);
            rejected.extend(r);
            woke += w;
        }
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
        let Some(i) = self.inner.shard_of(done.id) else {
            let (out, freed) = self.inner.lease(max, now, None);
            self.inner.release_slots(freed);
            return Ok((vec![done.id], out));
        };
        let shard = &self.inner.shards[i];
        let mut st = shard.state.lock();
        let applied = st.apply_one(done, now);
        shard.publish(&st);
        // Lease from this shard under the same lock when it ranks first; else elsewhere.
        let (out, freed) = self.inner.lease(max, now, Some((i, st)));
        self.inner.release_slots(freed);
        // What the finished task leaves is dropped here, after the lock.
        let state::Applied { rejected, woke, leftover } = applied;
        drop(leftover);
        // A retry made ready now wakes another worker (rare: completions make nothing ready).
        if woke {
            self.inner.notify.notify_one();
        }
        Ok((rejected.into_iter().collect(), out))
    }

    async fn heartbeat(&self, leases: &[(TaskId, i64)], _lease: Duration) -> Result<HeartbeatReply, QueueError> {
        let mut lost = Vec::new();
        for (i, shard) in self.inner.shards.iter().enumerate() {
            let mine: Vec<_> = leases.iter().copied().filter(|(id, _)| self.inner.shard_of(*id) == Some(i)).collect();
            if !mine.is_empty() {
                lost.extend(shard.state.lock().lost(&mine));
            }
        }
        // Ids no shard can hold are lost too.
        lost.extend(leases.iter().filter(|(id, _)| self.inner.shard_of(*id).is_none()).map(|(id, _)| *id));
        Ok(HeartbeatReply { lost, cancel_requested: Vec::new() })
    }

    async fn rescue_expired(&self) -> Result<u64, QueueError> {
        // Leases never expire in one process: the worker and the queue live and die together.
        Ok(0)
    }

    async fn wait_for_work(&self, max: Duration) {
        // Registered before the check, so a notify_one between the check and the wait is not
        // lost, and two of them wake two waiters.
        let notified = self.inner.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = Instant::now();
        if self.inner.has_ready(now) {
            return;
        }
        let deadline = self.inner.next_due().map_or(now + max, |d| d.min(now + max));
        tokio::select! {
            () = notified => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }

    async fn status(&self, id: TaskId) -> Result<Option<TaskInfo>, QueueError> {
        Ok(self.inner.shard_of(id).and_then(|i| self.inner.shards[i].state.lock().info(id)))
    }

    async fn cancel(&self, id: TaskId) -> Result<CancelOutcome, QueueError> {
        let Some(i) = self.inner.shard_of(id) else { return Ok(CancelOutcome::NotFound) };
        let shard = &self.inner.shards[i];
        let (outcome, freed) = {
            let mut st = shard.state.lock();
            let r = st.cancel(id, Instant::now());
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
        let now = Instant::now();
        Ok(self.inner.shards.iter().map(|s| s.state.lock().purge(now, older_than, 0)).sum())
    }

    fn in_process(&self) -> bool {
        true
    }
}
