//! Finished tasks kept for `status`: small records in their own map, so that the map of live
//! tasks stays small (cache-resident) however many finished tasks are retained (ADR 0044).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use super::state::{since, Nanos};
use crate::id_hash::IdHash;
use crate::priority::Priority;
use crate::status::{TaskInfo, TaskState};
use crate::task::TaskId;

/// What `status` needs of a finished task.
#[derive(Debug)]
pub(super) struct Done {
    pub(super) kind: Arc<str>,
    pub(super) priority: Priority,
    pub(super) state: TaskState,
    pub(super) attempts: u32,
    pub(super) max_attempts: u32,
    pub(super) last_error: Option<Box<str>>,
}

/// The records, and their order of finishing (oldest first), which retention follows.
#[derive(Debug)]
pub(super) struct Finished {
    done: HashMap<i64, Done, IdHash>,
    order: VecDeque<(Nanos, i64)>,
    retention: Duration,
    retention_max: usize,
}

impl Finished {
    /// Records are kept `retention` long, and (when `retention_max` is non-zero) at most
    /// about that many.
    pub(super) fn new(retention: Duration, retention_max: usize) -> Self {
        Self { done: HashMap::default(), order: VecDeque::new(), retention, retention_max }
    }

    pub(super) fn record(&mut self, id: i64, done: Done, now: Nanos) {
        self.done.insert(id, done);
        self.order.push_back((now, id));
    }

    pub(super) fn contains(&self, id: TaskId) -> bool {
        self.done.contains_key(&id.0)
    }

    pub(super) fn info(&self, id: TaskId) -> Option<TaskInfo> {
        self.done.get(&id.0).map(|d| TaskInfo {
            id,
            kind: d.kind.to_string(),
            priority: d.priority,
            state: d.state,
            attempts: d.attempts,
            max_attempts: d.max_attempts,
            last_error: d.last_error.as_deref().map(str::to_string),
        })
    }

    /// Forgets the oldest record if it is past the retention time or beyond the retention
    /// count; returns it, for the caller to drop outside its lock.
    pub(super) fn purge_one(&mut self, now: Nanos) -> Option<Done> {
        let &(at, id) = self.order.front()?;
        let too_many = self.retention_max > 0 && self.order.len() > self.retention_max;
        if !too_many && since(now, at) < self.retention {
            return None;
        }
        self.order.pop_front();
        self.done.remove(&id)
    }

    /// Forgets the records older than `older_than`, and the oldest ones beyond `keep_max`
    /// (when non-zero); returns how many.
    pub(super) fn purge(&mut self, now: Nanos, older_than: Duration, keep_max: usize) -> u64 {
        let mut n = 0;
        while let Some(&(at, id)) = self.order.front() {
            let too_many = keep_max > 0 && self.order.len() > keep_max;
            if !too_many && since(now, at) < older_than {
                break;
            }
            self.order.pop_front();
            if self.done.remove(&id).is_some() {
                n += 1;
            }
        }
        n
    }
}
