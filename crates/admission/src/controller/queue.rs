//! The bounded wait queue of `acquire`: one lane per priority level, FIFO or LIFO.

use std::collections::VecDeque;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{Permit, Rejected};
use crate::Priority;

/// Which waiter of a level is served first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueOrder {
    /// Oldest first: fair, but under overload every served request has waited the longest.
    #[default]
    Fifo,
    /// Newest first: under overload the served requests are fresh and the old ones expire,
    /// which keeps served latency low (Facebook's adaptive LIFO).
    Lifo,
}

pub(crate) type Reply = oneshot::Sender<Result<Permit, Rejected>>;

#[derive(Debug)]
pub(crate) struct Waiter {
    pub(crate) tx: Reply,
    pub(crate) until: Instant,
}

/// A bounded queue with one lane per priority level.
#[derive(Debug)]
pub(crate) struct WaitQueue {
    lanes: [VecDeque<Waiter>; 5],
    len: usize,
    pub(crate) capacity: usize,
    pub(crate) order: QueueOrder,
}

pub(crate) enum Enqueue {
    Queued,
    /// Full of more important waiters.
    Full,
    /// Queued after evicting a less important waiter, which must be told.
    Evicted(Waiter, Priority),
}

impl WaitQueue {
    pub(crate) fn new(capacity: usize, order: QueueOrder) -> Self {
        Self { lanes: Default::default(), len: 0, capacity, order }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn push(&mut self, level: Priority, w: Waiter, now: Instant) -> Enqueue {
        if self.len >= self.capacity {
            self.purge(now);
        }
        if self.len < self.capacity {
            self.lanes[level.index()].push_back(w);
            self.len += 1;
            return Enqueue::Queued;
        }
        // Full: take the place of the oldest waiter of the lowest level below this one.
        for lower in 0..level.index() {
            if let Some(victim) = self.lanes[lower].pop_front() {
                self.lanes[level.index()].push_back(w);
                return Enqueue::Evicted(victim, Priority::ALL[lower]);
            }
        }
        Enqueue::Full
    }

    /// The most important non-empty level, if any.
    pub(crate) fn top_level(&self) -> Option<Priority> {
        (0..5).rev().find(|&i| !self.lanes[i].is_empty()).map(|i| Priority::ALL[i])
    }

    pub(crate) fn pop(&mut self, level: Priority) -> Option<Waiter> {
        let lane = &mut self.lanes[level.index()];
        let w = match self.order {
            QueueOrder::Fifo => lane.pop_front(),
            QueueOrder::Lifo => lane.pop_back(),
        };
        if w.is_some() {
            self.len -= 1;
        }
        w
    }

    /// Drops waiters that gave up (receiver gone) or whose wait is over.
    pub(crate) fn purge(&mut self, now: Instant) {
        for lane in &mut self.lanes {
            lane.retain(|w| !w.tx.is_closed() && w.until > now);
        }
        self.len = self.lanes.iter().map(VecDeque::len).sum();
    }
}
