//! The shards of the memory backend (ADR 0047): each a lock around a [`State`], with its first
//! ready task's sort key and its first due time published in atomics, so that a worker picks
//! the shard to lease from without locking them all.

use std::hash::BuildHasher;
use std::sync::atomic::{fence, AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use super::lease::Sink;
use super::state::{Nanos, State};
use super::MemoryConfig;
use crate::aging::Aging;
use crate::striped::Line;
use crate::task::{Task, TaskId};

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) shards: Box<[Shard]>,
    pub(super) slots: Semaphore,
    /// The bounded queue's capacity as enforced (`cfg.capacity` clamped to at least 1).
    pub(super) capacity: usize,
    notify: Notify,
    /// How many worker loops wait in [`wait_for_task`](super::MemoryBackend) right now. A task
    /// made ready wakes one only when one waits: on a busy queue that costs a read of a line
    /// that seldom changes, instead of a write to the `Notify` every thread shares.
    idle: Line<AtomicUsize>,
    pub(super) cfg: MemoryConfig,
    epoch: Instant,
    /// Hashes unique keys to their shard.
    hasher: std::collections::hash_map::RandomState,
}

#[derive(Debug)]
pub(super) struct Shard {
    pub(super) state: Mutex<State>,
    /// The sort key of the shard's first ready task (`i64::MAX` when none), published after
    /// every change under the lock.
    head: AtomicI64,
    /// When its first delayed task is due, in ns from the epoch (`i64::MAX` when none).
    due: AtomicI64,
}

impl Shard {
    /// Publishes what `st` now holds; called with the lock held.
    pub(super) fn publish(&self, st: &State) {
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

/// Numbers threads in the order they first use a memory backend.
static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's number: its home shard is that number modulo the shard count, so that
    /// threads spread over the shards.
    static THREAD: usize = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
}

/// This thread's home shard among `n`.
fn home(n: usize) -> usize {
    THREAD.try_with(|t| *t).unwrap_or(0) % n
}

impl Inner {
    pub(super) fn new(cfg: MemoryConfig) -> Self {
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
                state: Mutex::new(State::new(per_shard, i + 1, step)),
                head: AtomicI64::new(i64::MAX),
                due: AtomicI64::new(i64::MAX),
            })
            .collect();
        Self {
            shards,
            slots: Semaphore::new(capacity),
            capacity,
            notify: Notify::new(),
            idle: Line(AtomicUsize::new(0)),
            cfg,
            epoch,
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// The index of the shard that holds task `id`, if `id` can be one of ours.
    pub(super) fn shard_of(&self, id: TaskId) -> Option<usize> {
        Some(usize::try_from(id.0.checked_sub(1)?).ok()? % self.shards.len())
    }

    /// The shard for `task`, locked: its unique key's shard (every task with that key lands in
    /// one shard, which checks for duplicates); else this thread's home shard, or the next one
    /// when another thread holds that lock (any shard will do).
    pub(super) fn lock_for_submit(&self, task: &Task) -> (&Shard, MutexGuard<'_, State>) {
        let n = self.shards.len();
        let first = match &task.unique_key {
            #[allow(clippy::cast_possible_truncation)]
            Some(k) => &self.shards[self.hasher.hash_one(k) as usize % n],
            None => {
                let home = home(n);
                let first = &self.shards[home];
                if n > 1 {
                    if let Some(g) = first.state.try_lock() {
                        return (first, g);
                    }
                    let next = &self.shards[(home + 1) % n];
                    if let Some(g) = next.state.try_lock() {
                        return (next, g);
                    }
                }
                first
            }
        };
        (first, first.state.lock())
    }

    /// `now` in the shards' [`Nanos`].
    pub(super) fn now_ns(&self, now: Instant) -> Nanos {
        i64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(i64::MAX / 2)
    }

    /// The shard to lease from at `now`, its rank, and the best rank among the others (the
    /// bound it must not serve past); `None` when no shard has work.
    fn pick(&self, now_ns: i64) -> Option<(usize, i64, i64)> {
        self.pick_except(now_ns, usize::MAX)
    }

    /// [`pick`](Self::pick) leaving out shard `skip`.
    fn pick_except(&self, now_ns: i64, skip: usize) -> Option<(usize, i64, i64)> {
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
        (best_rank != i64::MAX).then_some((best, best_rank, second))
    }

    /// Leases up to `max` tasks, best ranked first across shards, handing each to `sink`;
    /// returns how many queue slots they freed. `held` is a shard whose lock the caller holds
    /// and that may be served from, to save a second lock.
    pub(super) fn lease(
        &self,
        max: usize,
        now_ns: Nanos,
        mut held: Option<(usize, MutexGuard<'_, State>)>,
        sink: &mut impl Sink,
    ) -> usize {
        let (mut taken, mut freed) = (0, 0);
        let n = self.shards.len();
        let home = home(n);
        // A worker's snapshot of the heads can be overtaken by other workers; a few rounds
        // settle it, and the last round serves from the best shard whatever the bound.
        let rounds = n * 2 + 1;
        for round in 0..rounds {
            let Some((best, best_rank, second)) = self.pick(now_ns) else { break };
            let last = round + 1 == rounds;
            // This thread's home shard when its first task ranks within the slack of the best:
            // it holds what this thread submitted (in this core's cache, behind a lock other
            // threads seldom take). Priority order and aging hold to within the slack.
            let slack = best_rank.saturating_add(FALLBACK_SLACK_NS);
            let (target, bound) = if best != home && !last && self.shards[home].rank(now_ns, &self.cfg.aging) <= slack {
                (home, slack)
            } else {
                (best, if last { i64::MAX } else { second })
            };
            let (i, bound, mut st) = match held.take() {
                Some((h, guard)) if h == target => (target, bound, guard),
                other => {
                    // Never hold one shard's lock while taking another's: two workers doing
                    // so in opposite order would deadlock.
                    drop(other);
                    match (target == home && target != best).then(|| self.shards[home].state.try_lock()).flatten() {
                        Some(g) => (home, bound, g),
                        None => self.lock_for_lease(now_ns, best, if last { i64::MAX } else { second }),
                    }
                }
            };
            let shard = &self.shards[i];
            let (t, f) = st.take(max - taken, now_ns, bound, sink);
            shard.publish(&st);
            drop(st);
            taken += t;
            freed += f;
            if taken >= max {
                break;
            }
        }
        freed
    }

    /// Locks shard `best` to lease below `bound`. When its lock is busy (mostly another
    /// worker leasing its first task), the next-best shard instead, if its lock is free and its
    /// first task ranks within [`FALLBACK_SLACK_NS`] of `best`'s: that task would come next but
    /// for a few just submitted around the same time. A task ranked further back waits, so
    /// priority order and aging hold to within that slack. Returns the shard, the bound to
    /// lease under and the guard.
    fn lock_for_lease(&self, now_ns: i64, best: usize, bound: i64) -> (usize, i64, MutexGuard<'_, State>) {
        if let Some(g) = self.shards[best].state.try_lock() {
            return (best, bound, g);
        }
        let slack = self.shards[best].rank(now_ns, &self.cfg.aging).saturating_add(FALLBACK_SLACK_NS);
        if let Some((j, _, next)) = self.pick_except(now_ns, best) {
            if self.shards[j].rank(now_ns, &self.cfg.aging) <= slack {
                if let Some(g) = self.shards[j].state.try_lock() {
                    return (j, next.min(slack), g);
                }
            }
        }
        (best, bound, self.shards[best].state.lock())
    }

    pub(super) fn has_ready(&self, now: Instant) -> bool {
        let now_ns = self.now_ns(now);
        // `due` before `head`, as in `Shard::rank`.
        self.shards.iter().any(|sh| {
            let due = sh.due.load(Ordering::Acquire);
            sh.head.load(Ordering::Acquire) != i64::MAX || due <= now_ns
        })
    }

    pub(super) fn next_due(&self) -> Option<Instant> {
        let due = self.shards.iter().map(|sh| sh.due.load(Ordering::Acquire)).min()?;
        if due == i64::MAX {
            return None;
        }
        self.epoch.checked_add(Duration::from_nanos(u64::try_from(due).unwrap_or(0)))
    }

    /// Wakes workers after an outcome: one when a task became ready, all when one was delayed.
    pub(super) fn wake(&self, ready: bool, delayed: bool) {
        if ready {
            self.wake_one();
        } else if delayed {
            self.wake_all();
        }
    }

    /// A task became ready: wakes one waiting worker, if any waits.
    pub(super) fn wake_one(&self) {
        // Pairs with the fence in `idle_wait`: either this thread sees the waiter, or the
        // waiter sees the task this thread published before.
        fence(Ordering::SeqCst);
        if self.idle.0.load(Ordering::Relaxed) > 0 {
            self.notify.notify_one();
        }
    }

    /// A task was delayed, so the earliest due time may be earlier: wakes every waiting
    /// worker to look again (rare: delays and retries).
    pub(super) fn wake_all(&self) {
        fence(Ordering::SeqCst);
        if self.idle.0.load(Ordering::Relaxed) > 0 {
            self.notify.notify_waiters();
        }
    }

    /// Waits until a task may be ready (a wake, or the first due time), or `max` passed; a `max`
    /// too long to add to the clock waits for the others alone.
    pub(super) async fn idle_wait(&self, max: Duration) {
        // Registered before the check, so a wake between the check and the wait is not lost,
        // and two of them wake two waiters.
        let notified = self.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        self.idle.0.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.idle.0);
        fence(Ordering::SeqCst);
        let now = Instant::now();
        if self.has_ready(now) {
            return;
        }
        let poll = now.checked_add(max);
        let deadline = match (self.next_due(), poll) {
            (Some(due), Some(poll)) => Some(due.min(poll)),
            (due, poll) => due.or(poll),
        };
        match deadline {
            Some(deadline) => {
                tokio::select! {
                    () = notified => {}
                    () = tokio::time::sleep_until(deadline) => {}
                }
            }
            None => notified.await,
        }
    }

    pub(super) fn release_slots(&self, freed: usize) {
        if freed > 0 {
            self.slots.add_permits(freed);
        }
    }
}

/// Counts a waiter out of [`Inner::idle_wait`] however its wait ends (also when its future is
/// dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
