//! The data behind the memory backend's lock, with no async and no I/O.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::finished::{Done, Finished};
use super::lease::{Running, Sink};
use super::ready::Ready;
use super::MemoryConfig;
use crate::backend::{Completion, Outcome};
use crate::backoff::BackoffPolicy;
use crate::error::QueueError;
use crate::handler::Lease;
use crate::id_hash::IdHash;
use crate::limits::{clamp_delay, error_text};
use crate::priority::{level, Priority};
use crate::status::{CancelOutcome, TaskInfo, TaskState};
use crate::task::{Task, TaskId};

/// A live task. Kept small (it is moved into the map by the producer's thread and out of it by
/// a worker's, and every byte crosses between their caches): what few tasks have is boxed in
/// [`Rare`], and the tags (which `status` does not show) are not kept.
#[derive(Debug)]
struct Entry {
    kind: Arc<str>,
    /// `None` while a worker loop's attempt holds it (moved, not shared: a clone and a drop are
    /// two atomic operations on a line every thread touches when tasks share a payload); the
    /// loop gives it back with a retry or a release.
    payload: Option<Arc<[u8]>>,
    backoff: BackoffPolicy,
    timeout: Option<Duration>,
    /// When it became (or becomes) ready, in [`Nanos`].
    ready_at: Nanos,
    /// Which queue item is current; older items of the same task are skipped.
    seq: u64,
    fence: i64,
    /// While running: what cancels the attempt.
    running: Option<Running>,
    rare: Option<Box<Rare>>,
    attempts: u32,
    max_attempts: u32,
    priority: Priority,
    state: TaskState,
    /// True while the task holds one of the bounded queue's slots.
    holds_slot: bool,
    cancel_requested: bool,
}

/// What most tasks do not have.
#[derive(Debug, Default)]
struct Rare {
    unique_key: Option<String>,
    span: Option<tracing::Span>,
    last_error: Option<String>,
}

impl Entry {
    fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    fn last_error(&self) -> Option<String> {
        self.rare.as_ref().and_then(|r| r.last_error.clone())
    }
}

/// What finishing a task leaves behind: shared handles (an atomic on a cache line other
/// threads touch) and heap blocks, dropped by the caller after it releases the lock.
#[derive(Debug)]
pub(super) struct Leftover {
    _payload: Option<Arc<[u8]>>,
    _rare: Option<Box<Rare>>,
    _running: Option<Running>,
    _purged: [Option<Done>; 2],
}

/// The result of applying one outcome.
#[derive(Debug)]
pub(super) struct Applied {
    /// The outcome was stale (the lease moved on).
    pub(super) rejected: Option<TaskId>,
    /// The task is ready again (released, or retried without delay).
    pub(super) woke: bool,
    /// The task waits for a retry delay (the earliest due time may have moved).
    pub(super) delayed: bool,
    /// To drop outside the lock.
    pub(super) leftover: Option<Leftover>,
}

/// Nanoseconds since the backend's epoch (a `tokio::time::Instant` shared by its shards): the
/// state keeps times as integers, so that sort keys, waits and deadlines are subtractions.
pub(super) type Nanos = i64;

/// `d` in nanoseconds, at most [`MAX_DELAY`](crate::MAX_DELAY).
fn nanos(d: Duration) -> Nanos {
    Nanos::try_from(clamp_delay(d).as_nanos()).unwrap_or(Nanos::MAX / 4)
}

/// The time from `from` to `to`, zero when `to` is earlier.
pub(super) fn since(to: Nanos, from: Nanos) -> Duration {
    Duration::from_nanos(u64::try_from(to.saturating_sub(from)).unwrap_or(0))
}

#[derive(Debug)]
pub(super) struct State {
    cfg: MemoryConfig,
    ready: Ready,
    delayed: BinaryHeap<Reverse<(Nanos, u64, i64)>>,
    /// Pending, delayed, failed (awaiting retry) and running tasks.
    tasks: HashMap<i64, Entry, IdHash>,
    /// Finished tasks kept for `status`.
    finished: Finished,
    unique: HashMap<String, TaskId>,
    next_id: i64,
    /// Ids step by the number of shards, so an id names its shard.
    id_step: i64,
    next_seq: u64,
}

impl State {
    /// One shard's state: its ids are `first_id`, `first_id + id_step`, ...
    pub(super) fn new(cfg: MemoryConfig, first_id: i64, id_step: i64) -> Self {
        Self {
            cfg,
            ready: Ready::default(),
            delayed: BinaryHeap::new(),
            tasks: HashMap::default(),
            finished: Finished::new(cfg.retention, cfg.retention_max),
            unique: HashMap::new(),
            next_id: first_id,
            id_step,
            next_seq: 0,
        }
    }

    fn key(&self, at: Nanos, p: Priority) -> i64 {
        self.cfg.aging.sort_key(at, p)
    }

    /// Queues the task `id` (of priority `p`) to become ready at `at` under sequence number
    /// `seq`; returns true when it is ready now.
    fn push(&mut self, id: i64, p: Priority, at: Nanos, seq: u64, now: Nanos) -> bool {
        if at <= now {
            let k = self.key(at, p);
            self.ready.push(level(p), (k, seq, id));
            true
        } else {
            self.delayed.push(Reverse((at, seq, id)));
            false
        }
    }

    /// Queues entry `id` again (a retry or a release) to become ready at `at`; returns true
    /// when it is ready now.
    fn requeue(&mut self, id: i64, at: Nanos, now: Nanos) -> bool {
        self.next_seq += 1;
        let seq = self.next_seq;
        let Some(e) = self.tasks.get_mut(&id) else { return false };
        e.seq = seq;
        e.ready_at = at;
        let p = e.priority;
        self.push(id, p, at, seq, now)
    }

    pub(super) fn insert(
        &mut self,
        task: Task,
        span: Option<tracing::Span>,
        now: Nanos,
    ) -> Result<(TaskId, bool), QueueError> {
        if let Some(k) = &task.unique_key {
            if let Some(existing) = self.unique.get(k) {
                return Err(QueueError::Duplicate { existing: *existing });
            }
        }
        // Nothing below can fail: the key is taken only by a task that is stored.
        let at = now.saturating_add(nanos(task.delay));
        let id = self.next_id;
        self.next_id += self.id_step;
        self.next_seq += 1;
        let seq = self.next_seq;
        let Task { kind, payload, priority, max_attempts, backoff, timeout, unique_key, .. } = task;
        // A span no subscriber records is not kept.
        let span = span.filter(|s| !s.is_none());
        let rare = (unique_key.is_some() || span.is_some()).then(|| {
            if let Some(k) = &unique_key {
                self.unique.insert(k.clone(), TaskId(id));
            }
            Box::new(Rare { unique_key, span, last_error: None })
        });
        let entry = Entry {
            kind,
            payload: Some(payload),
            backoff,
            timeout,
            ready_at: at,
            seq,
            fence: 0,
            running: None,
            rare,
            attempts: 0,
            max_attempts,
            priority,
            state: TaskState::Pending,
            holds_slot: true,
            cancel_requested: false,
        };
        self.tasks.insert(id, entry);
        let ready = self.push(id, priority, at, seq, now);
        Ok((TaskId(id), ready))
    }

    fn promote(&mut self, now: Nanos) {
        while let Some(Reverse((at, seq, id))) = self.delayed.peek().copied() {
            if at > now {
                break;
            }
            self.delayed.pop();
            if let Some(e) = self.tasks.get(&id) {
                if e.seq == seq && matches!(e.state, TaskState::Pending | TaskState::Failed) {
                    let p = e.priority;
                    let k = self.key(at, p);
                    self.ready.push(level(p), (k, seq, id));
                }
            }
        }
    }

    /// The sort key of the first ready task (`i64::MAX` when none), and when the first delayed
    /// task is due, in nanoseconds from the epoch (`i64::MAX` when none): what the backend
    /// publishes so that workers pick a shard without locking them all.
    pub(super) fn heads(&self) -> (i64, i64) {
        let ready = self.ready.peek().map_or(i64::MAX, |(k, ..)| k);
        let due = self.delayed.peek().map_or(i64::MAX, |Reverse((at, ..))| *at);
        (ready, due)
    }

    /// Leases up to `max` tasks whose sort key is at most `bound` (the best head of the other
    /// shards, so that one shard does not serve a task another shard ranks later), handing each
    /// to `sink`; returns how many were leased and how many queue slots they freed.
    pub(super) fn take<S: Sink>(&mut self, max: usize, now: Nanos, bound: i64, sink: &mut S) -> (usize, usize) {
        self.promote(now);
        let (mut taken, mut freed) = (0, 0);
        while taken < max {
            // Stale items (cancelled, or re-queued under a newer sequence number) are dropped
            // whatever their key; a live one is leased only within the bound.
            let Some((from, (key, seq, id))) = self.ready.first() else { break };
            let e = self
                .tasks
                .get_mut(&id)
                .filter(|e| e.seq == seq && matches!(e.state, TaskState::Pending | TaskState::Failed));
            let Some(e) = e else {
                self.ready.remove_first(from);
                continue;
            };
            if key > bound {
                break;
            }
            self.ready.remove_first(from);
            e.state = TaskState::Running;
            e.attempts += 1;
            e.fence += 1;
            if e.holds_slot {
                e.holds_slot = false;
                freed += 1;
            }
            let payload = if S::MOVES_PAYLOAD { e.payload.take() } else { e.payload.clone() };
            taken += 1;
            e.running = Some(sink.put(Lease {
                id: TaskId(id),
                kind: e.kind.clone(),
                payload: payload.unwrap_or_else(|| Arc::from(&b"null"[..])),
                priority: e.priority,
                attempt: e.attempts,
                max_attempts: e.max_attempts,
                backoff: e.backoff,
                timeout: e.timeout,
                fence: e.fence,
                span: e.rare.as_ref().and_then(|r| r.span.clone()),
                waited: since(now, e.ready_at),
            }));
        }
        (taken, freed)
    }

    /// Moves task `id` to the finished records; returns what the caller should drop once the
    /// lock is released.
    fn finish(&mut self, id: i64, state: TaskState, now: Nanos) -> Option<Leftover> {
        let e = self.tasks.remove(&id)?;
        let Entry { kind, payload, priority, attempts, max_attempts, running, mut rare, .. } = e;
        let last_error = rare.as_mut().and_then(|r| r.last_error.take()).map(String::into_boxed_str);
        if let Some(k) = rare.as_ref().and_then(|r| r.unique_key.as_ref()) {
            self.unique.remove(k);
        }
        self.finished.record(id, Done { kind, priority, state, attempts, max_attempts, last_error }, now);
        Some(Leftover { _payload: payload, _rare: rare, _running: running, _purged: [None, None] })
    }

    /// Applies outcomes that come without the payload (it was shared at the lease); returns
    /// the rejected (stale) ids, how many tasks became ready, and whether any was delayed.
    pub(super) fn apply(
        &mut self,
        batch: impl IntoIterator<Item = Completion>,
        now: Nanos,
    ) -> (Vec<TaskId>, usize, bool) {
        let mut rejected = Vec::new();
        let (mut woke, mut delayed) = (0, false);
        for c in batch {
            let applied = self.apply_one(c, None, now);
            rejected.extend(applied.rejected);
            woke += usize::from(applied.woke);
            delayed |= applied.delayed;
        }
        (rejected, woke, delayed)
    }

    /// Applies one outcome; `payload` is the task's payload when the lease moved it to the
    /// attempt. Finished records beyond the retention are forgotten two at a time (one more
    /// than each outcome adds, so a backlog drains), which keeps every call O(1);
    /// [`purge`](Self::purge) forgets them all at once.
    pub(super) fn apply_one(&mut self, c: Completion, payload: Option<Arc<[u8]>>, now: Nanos) -> Applied {
        let id = c.id.0;
        let mut applied = Applied { rejected: None, woke: false, delayed: false, leftover: None };
        let Some(e) = self.tasks.get_mut(&id) else {
            applied.rejected = Some(c.id);
            return applied;
        };
        if e.state != TaskState::Running || e.fence != c.fence {
            applied.rejected = Some(c.id);
            return applied;
        }
        if e.payload.is_none() {
            e.payload = payload;
        }
        let outcome = match c.outcome {
            Outcome::Retry { .. } | Outcome::Released if e.cancel_requested => Outcome::Cancelled,
            // A moved payload that did not come back: the task cannot run again.
            Outcome::Retry { error, .. } if e.payload.is_none() => {
                Outcome::Dead { error: format!("{error} (and its payload was not handed back for a retry)") }
            }
            Outcome::Released if e.payload.is_none() => {
                Outcome::Dead { error: "released, but its payload was not handed back".into() }
            }
            o => o,
        };
        match outcome {
            Outcome::Completed => applied.leftover = self.finish(id, TaskState::Completed, now),
            Outcome::Cancelled => applied.leftover = self.finish(id, TaskState::Cancelled, now),
            Outcome::Dead { error } => {
                e.rare().last_error = Some(error_text(error));
                applied.leftover = self.finish(id, TaskState::Dead, now);
            }
            Outcome::Retry { delay, error } => {
                e.rare().last_error = Some(error_text(error));
                e.state = TaskState::Failed;
                let running = e.running.take();
                applied.woke = self.requeue(id, now.saturating_add(nanos(delay)), now);
                applied.delayed = !applied.woke;
                applied.leftover =
                    Some(Leftover { _payload: None, _rare: None, _running: running, _purged: [None, None] });
            }
            Outcome::Released => {
                e.state = TaskState::Pending;
                e.attempts = e.attempts.saturating_sub(1);
                let running = e.running.take();
                let at = e.ready_at;
                applied.woke = self.requeue(id, at, now);
                applied.leftover =
                    Some(Leftover { _payload: None, _rare: None, _running: running, _purged: [None, None] });
            }
        }
        if let Some(left) = &mut applied.leftover {
            for slot in &mut left._purged {
                *slot = self.finished.purge_one(now);
            }
        }
        applied
    }

    pub(super) fn lost(&self, leases: &[(TaskId, i64)]) -> Vec<TaskId> {
        leases
            .iter()
            .filter(|(id, fence)| {
                !self.tasks.get(&id.0).is_some_and(|e| e.state == TaskState::Running && e.fence == *fence)
            })
            .map(|(id, _)| *id)
            .collect()
    }

    pub(super) fn info(&self, id: TaskId) -> Option<TaskInfo> {
        if let Some(e) = self.tasks.get(&id.0) {
            return Some(TaskInfo {
                id,
                kind: e.kind.to_string(),
                priority: e.priority,
                state: e.state,
                attempts: e.attempts,
                max_attempts: e.max_attempts,
                last_error: e.last_error(),
            });
        }
        self.finished.info(id)
    }

    /// Cancels `id`; the bool says whether a queue slot was freed.
    pub(super) fn cancel(&mut self, id: TaskId, now: Nanos) -> (CancelOutcome, bool) {
        let Some(e) = self.tasks.get_mut(&id.0) else {
            let outcome =
                if self.finished.contains(id) { CancelOutcome::AlreadyFinished } else { CancelOutcome::NotFound };
            return (outcome, false);
        };
        match e.state {
            TaskState::Pending | TaskState::Failed => {
                let freed = std::mem::take(&mut e.holds_slot);
                drop(self.finish(id.0, TaskState::Cancelled, now));
                (CancelOutcome::Removed, freed)
            }
            TaskState::Running => {
                e.cancel_requested = true;
                if let Some(r) = &e.running {
                    r.cancel();
                }
                (CancelOutcome::Signalled, false)
            }
            _ => (CancelOutcome::AlreadyFinished, false),
        }
    }

    pub(super) fn depth(&self) -> [u64; 5] {
        let mut d = [0u64; 5];
        for e in self.tasks.values() {
            if matches!(e.state, TaskState::Pending | TaskState::Failed) {
                d[usize::from(level(e.priority))] += 1;
            }
        }
        d
    }

    /// Forgets finished tasks older than `older_than`, and the oldest ones beyond `keep_max`
    /// (when non-zero).
    pub(super) fn purge(&mut self, now: Nanos, older_than: Duration, keep_max: usize) -> u64 {
        self.finished.purge(now, older_than, keep_max)
    }
}
