//! The data behind the memory backend's lock, with no async and no I/O.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::ready::Ready;
use super::MemoryConfig;
use crate::backend::{Completion, LeasedTask, Outcome};
use crate::error::QueueError;
use crate::id_hash::IdHash;
use crate::priority::{level, Priority};
use crate::status::{CancelOutcome, TaskInfo, TaskState};
use crate::task::{Task, TaskId};

#[derive(Debug)]
struct Entry {
    task: Task,
    state: TaskState,
    attempts: u32,
    fence: i64,
    /// Which heap item is current; older items of the same task are skipped.
    seq: u64,
    /// True while the task holds one of the bounded queue's slots.
    holds_slot: bool,
    cancel: Option<CancellationToken>,
    cancel_requested: bool,
    last_error: Option<String>,
    ready_at: Instant,
    span: Option<tracing::Span>,
}

/// What `status` needs of a finished task: a small record in its own map, so that the map of
/// live tasks stays small (cache-resident) however many finished tasks are retained.
#[derive(Debug)]
struct Done {
    kind: Arc<str>,
    priority: Priority,
    state: TaskState,
    attempts: u32,
    max_attempts: u32,
    last_error: Option<String>,
}

/// What finishing a task leaves behind: shared handles (an atomic on a cache line other
/// threads touch) and heap blocks, dropped by the caller after it releases the lock.
#[derive(Debug)]
pub(super) struct Leftover {
    _payload: Arc<[u8]>,
    _span: Option<tracing::Span>,
    _cancel: Option<CancellationToken>,
    _unique_key: Option<String>,
    _tags: Vec<String>,
    _purged: [Option<Done>; 2],
}

/// The result of applying one outcome.
#[derive(Debug)]
pub(super) struct Applied {
    /// The outcome was stale (the lease moved on).
    pub(super) rejected: Option<TaskId>,
    /// The task is ready again (released, or retried without delay).
    pub(super) woke: bool,
    /// To drop outside the lock.
    pub(super) leftover: Option<Leftover>,
}

#[derive(Debug)]
pub(super) struct State {
    epoch: Instant,
    cfg: MemoryConfig,
    ready: Ready,
    delayed: BinaryHeap<Reverse<(Instant, u64, i64)>>,
    /// Pending, delayed, failed (awaiting retry) and running tasks.
    tasks: HashMap<i64, Entry, IdHash>,
    /// Finished tasks kept for `status`, oldest first in `finished`.
    done: HashMap<i64, Done, IdHash>,
    unique: HashMap<String, TaskId>,
    finished: VecDeque<(Instant, i64)>,
    next_id: i64,
    /// Ids step by the number of shards, so an id names its shard.
    id_step: i64,
    next_seq: u64,
}

impl State {
    /// One shard's state: its ids are `first_id`, `first_id + id_step`, ...; `epoch` is shared
    /// by every shard so that their sort keys compare.
    pub(super) fn new(epoch: Instant, cfg: MemoryConfig, first_id: i64, id_step: i64) -> Self {
        Self {
            epoch,
            cfg,
            ready: Ready::default(),
            delayed: BinaryHeap::new(),
            tasks: HashMap::default(),
            done: HashMap::default(),
            unique: HashMap::new(),
            finished: VecDeque::new(),
            next_id: first_id,
            id_step,
            next_seq: 0,
        }
    }

    fn key(&self, at: Instant, p: Priority) -> i64 {
        self.cfg.aging.sort_key(self.ns(at), p)
    }

    /// Queues entry `id` to become ready at `at`; returns true when it is ready now.
    fn enqueue(&mut self, id: i64, at: Instant, now: Instant) -> bool {
        self.next_seq += 1;
        let seq = self.next_seq;
        let Some(e) = self.tasks.get_mut(&id) else { return false };
        e.seq = seq;
        e.ready_at = at;
        let p = e.task.priority;
        if at <= now {
            let k = self.key(at, p);
            self.ready.push(level(p), (k, seq, id));
            true
        } else {
            self.delayed.push(Reverse((at, seq, id)));
            false
        }
    }

    pub(super) fn insert(
        &mut self,
        task: Task,
        span: Option<tracing::Span>,
        now: Instant,
    ) -> Result<(TaskId, bool), QueueError> {
        if let Some(k) = &task.unique_key {
            if let Some(existing) = self.unique.get(k) {
                return Err(QueueError::Duplicate { existing: *existing });
            }
        }
        let id = self.next_id;
        self.next_id += self.id_step;
        if let Some(k) = &task.unique_key {
            self.unique.insert(k.clone(), TaskId(id));
        }
        let at = now + task.delay;
        self.tasks.insert(
            id,
            Entry {
                task,
                state: TaskState::Pending,
                attempts: 0,
                fence: 0,
                seq: 0,
                holds_slot: true,
                cancel: None,
                cancel_requested: false,
                last_error: None,
                ready_at: at,
                span,
            },
        );
        let ready = self.enqueue(id, at, now);
        Ok((TaskId(id), ready))
    }

    fn promote(&mut self, now: Instant) {
        while let Some(Reverse((at, seq, id))) = self.delayed.peek().copied() {
            if at > now {
                break;
            }
            self.delayed.pop();
            if let Some(e) = self.tasks.get(&id) {
                if e.seq == seq && matches!(e.state, TaskState::Pending | TaskState::Failed) {
                    let p = e.task.priority;
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
        let due = self.delayed.peek().map_or(i64::MAX, |Reverse((at, ..))| self.ns(*at));
        (ready, due)
    }

    /// Nanoseconds from the epoch.
    pub(super) fn ns(&self, at: Instant) -> i64 {
        i64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(i64::MAX / 2)
    }

    /// Leases up to `max` tasks whose sort key is at most `bound` (the best head of the other
    /// shards, so that one shard does not serve a task another shard ranks later); returns
    /// them and how many queue slots they freed.
    pub(super) fn take(&mut self, max: usize, now: Instant, bound: i64) -> (Vec<LeasedTask>, usize) {
        self.promote(now);
        let mut out = Vec::with_capacity(max.min(self.ready.len()));
        let mut freed = 0;
        while out.len() < max {
            // Stale items (cancelled, or re-queued under a newer sequence number) are dropped
            // whatever their key; a live one is leased only within the bound.
            let Some((key, seq, id)) = self.ready.peek() else { break };
            let e = self
                .tasks
                .get_mut(&id)
                .filter(|e| e.seq == seq && matches!(e.state, TaskState::Pending | TaskState::Failed));
            let Some(e) = e else {
                self.ready.pop();
                continue;
            };
            if key > bound {
                break;
            }
            self.ready.pop();
            e.state = TaskState::Running;
            e.attempts += 1;
            e.fence += 1;
            if e.holds_slot {
                e.holds_slot = false;
                freed += 1;
            }
            let cancel = CancellationToken::new();
            e.cancel = Some(cancel.clone());
            out.push(LeasedTask {
                id: TaskId(id),
                kind: e.task.kind.clone(),
                payload: e.task.payload.clone(),
                priority: e.task.priority,
                attempt: e.attempts,
                max_attempts: e.task.max_attempts,
                backoff: e.task.backoff,
                timeout: e.task.timeout,
                fence: e.fence,
                cancel,
                span: e.span.clone(),
                waited: now.saturating_duration_since(e.ready_at),
            });
        }
        (out, freed)
    }

    /// Moves task `id` to the finished records; returns what the caller should drop once the
    /// lock is released.
    fn finish(&mut self, id: i64, state: TaskState, now: Instant) -> Option<Leftover> {
        let e = self.tasks.remove(&id)?;
        let Entry { task, attempts, last_error, span, cancel, .. } = e;
        let Task { kind, payload, priority, max_attempts, unique_key, tags, .. } = task;
        if let Some(k) = &unique_key {
            self.unique.remove(k);
        }
        self.done.insert(id, Done { kind, priority, state, attempts, max_attempts, last_error });
        self.finished.push_back((now, id));
        Some(Leftover {
            _payload: payload,
            _span: span,
            _cancel: cancel,
            _unique_key: unique_key,
            _tags: tags,
            _purged: [None, None],
        })
    }

    /// Applies outcomes; returns the rejected (stale) ids and how many tasks became ready.
    pub(super) fn apply(&mut self, batch: impl IntoIterator<Item = Completion>, now: Instant) -> (Vec<TaskId>, usize) {
        let mut rejected = Vec::new();
        let mut woke = 0;
        for c in batch {
            let applied = self.apply_one(c, now);
            rejected.extend(applied.rejected);
            woke += usize::from(applied.woke);
        }
        (rejected, woke)
    }

    /// Applies one outcome. Finished records beyond the retention are forgotten two at a time
    /// (one more than each outcome adds, so a backlog drains), which keeps every call O(1);
    /// [`purge`](Self::purge) forgets them all at once.
    pub(super) fn apply_one(&mut self, c: Completion, now: Instant) -> Applied {
        let id = c.id.0;
        let mut applied = Applied { rejected: None, woke: false, leftover: None };
        let Some(e) = self.tasks.get_mut(&id) else {
            applied.rejected = Some(c.id);
            return applied;
        };
        if e.state != TaskState::Running || e.fence != c.fence {
            applied.rejected = Some(c.id);
            return applied;
        }
        let outcome = match c.outcome {
            Outcome::Retry { .. } | Outcome::Released if e.cancel_requested => Outcome::Cancelled,
            o => o,
        };
        match outcome {
            Outcome::Completed => applied.leftover = self.finish(id, TaskState::Completed, now),
            Outcome::Cancelled => applied.leftover = self.finish(id, TaskState::Cancelled, now),
            Outcome::Dead { error } => {
                e.last_error = Some(error);
                applied.leftover = self.finish(id, TaskState::Dead, now);
            }
            Outcome::Retry { delay, error } => {
                e.last_error = Some(error);
                e.state = TaskState::Failed;
                e.cancel = None;
                applied.woke = self.enqueue(id, now + delay, now);
            }
            Outcome::Released => {
                e.state = TaskState::Pending;
                e.attempts = e.attempts.saturating_sub(1);
                e.cancel = None;
                let at = e.ready_at;
                applied.woke = self.enqueue(id, at, now);
            }
        }
        if let Some(left) = &mut applied.leftover {
            for slot in &mut left._purged {
                *slot = self.purge_one(now);
            }
        }
        applied
    }

    /// Forgets the oldest finished record if it is past the retention time or beyond the
    /// retention count.
    fn purge_one(&mut self, now: Instant) -> Option<Done> {
        let &(at, id) = self.finished.front()?;
        let too_many = self.cfg.retention_max > 0 && self.finished.len() > self.cfg.retention_max;
        if !too_many && now.saturating_duration_since(at) < self.cfg.retention {
            return None;
        }
        self.finished.pop_front();
        self.done.remove(&id)
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
                kind: e.task.kind.to_string(),
                priority: e.task.priority,
                state: e.state,
                attempts: e.attempts,
                max_attempts: e.task.max_attempts,
                last_error: e.last_error.clone(),
            });
        }
        self.done.get(&id.0).map(|d| TaskInfo {
            id,
            kind: d.kind.to_string(),
            priority: d.priority,
            state: d.state,
            attempts: d.attempts,
            max_attempts: d.max_attempts,
            last_error: d.last_error.clone(),
        })
    }

    /// Cancels `id`; the bool says whether a queue slot was freed.
    pub(super) fn cancel(&mut self, id: TaskId, now: Instant) -> (CancelOutcome, bool) {
        let Some(e) = self.tasks.get_mut(&id.0) else {
            let outcome =
                if self.done.contains_key(&id.0) { CancelOutcome::AlreadyFinished } else { CancelOutcome::NotFound };
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
                if let Some(t) = &e.cancel {
                    t.cancel();
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
                d[usize::from(level(e.task.priority))] += 1;
            }
        }
        d
    }

    /// Forgets finished tasks older than `older_than`, and the oldest ones beyond `keep_max`
    /// (when non-zero).
    pub(super) fn purge(&mut self, now: Instant, older_than: Duration, keep_max: usize) -> u64 {
        let mut n = 0;
        while let Some(&(at, id)) = self.finished.front() {
            let too_many = keep_max > 0 && self.finished.len() > keep_max;
            if !too_many && now.saturating_duration_since(at) < older_than {
                break;
            }
            self.finished.pop_front();
            if self.done.remove(&id).is_some() {
                n += 1;
            }
        }
        n
    }
}
