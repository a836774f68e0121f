//! The ready tasks, in the order they are leased: smallest sort key first, then oldest.
//!
//! A task's sort key is the time it became ready minus a fixed head start per priority level
//! (aging), so within one level the keys rise in the order tasks become ready. One FIFO per
//! level therefore keeps them sorted, and the next task is the smallest of five fronts: O(1)
//! where a heap of every ready task costs O(log n) cache-missing steps per lease, under the
//! backend's lock. A task that becomes ready with an older time than its level's newest (a
//! released lease keeps its place; a retry promoted late) goes to a small heap instead.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// (sort key, sequence number, task id): ordered by key, then by sequence.
pub(super) type Item = (i64, u64, i64);

const LEVELS: usize = 5;

#[derive(Debug, Default)]
pub(super) struct Ready {
    fifo: [VecDeque<Item>; LEVELS],
    /// Items whose key is below the newest of their level when they arrived.
    late: BinaryHeap<Reverse<Item>>,
}

impl Ready {
    /// Adds `item` of priority `level` (0 = lowest).
    pub(super) fn push(&mut self, level: u8, item: Item) {
        let q = &mut self.fifo[usize::from(level).min(LEVELS - 1)];
        if q.back().is_none_or(|b| *b <= item) {
            q.push_back(item);
        } else {
            self.late.push(Reverse(item));
        }
    }

    /// The smallest item.
    pub(super) fn peek(&self) -> Option<Item> {
        self.first().map(|(_, item)| item)
    }

    /// Removes and returns the smallest item.
    #[cfg(test)]
    fn pop(&mut self) -> Option<Item> {
        let (from, item) = self.first()?;
        self.remove_first(from);
        Some(item)
    }

    /// Removes the smallest item, which [`first`](Self::first) found at `from` (no search).
    pub(super) fn remove_first(&mut self, from: usize) {
        if from == LEVELS {
            self.late.pop();
        } else {
            self.fifo[from].pop_front();
        }
    }

    /// Where the smallest item is (`LEVELS` stands for the heap), and the item.
    pub(super) fn first(&self) -> Option<(usize, Item)> {
        let mut best: Option<(usize, Item)> = None;
        for (i, q) in self.fifo.iter().enumerate() {
            if let Some(&front) = q.front() {
                if best.is_none_or(|(_, b)| front < b) {
                    best = Some((i, front));
                }
            }
        }
        if let Some(&Reverse(top)) = self.late.peek() {
            if best.is_none_or(|(_, b)| top < b) {
                best = Some((LEVELS, top));
            }
        }
        best
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.late.is_empty() && self.fifo.iter().all(VecDeque::is_empty)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.late.len() + self.fifo.iter().map(VecDeque::len).sum::<usize>()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Push(u8, i64),
        Pop,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![(0u8..5, -50i64..50).prop_map(|(l, k)| Op::Push(l, k)), Just(Op::Pop)]
    }

    proptest! {
        /// Pops in exactly the order a single heap of every item would, whatever the push order
        /// (in-order keys, late keys, ties).
        #[test]
        fn pops_in_heap_order(ops in proptest::collection::vec(op(), 0..300)) {
            let mut ready = Ready::default();
            let mut model = BinaryHeap::new();
            let mut seq = 0u64;
            for op in ops {
                match op {
                    Op::Push(level, key) => {
                        seq += 1;
                        ready.push(level, (key, seq, i64::try_from(seq).unwrap()));
                        model.push(Reverse((key, seq, i64::try_from(seq).unwrap())));
                    }
                    Op::Pop => {
                        prop_assert_eq!(ready.peek(), model.peek().map(|Reverse(i)| *i));
                        prop_assert_eq!(ready.pop(), model.pop().map(|Reverse(i)| i));
                    }
                }
                prop_assert_eq!(ready.len(), model.len());
                prop_assert_eq!(ready.is_empty(), model.is_empty());
            }
            while let Some(Reverse(i)) = model.pop() {
                prop_assert_eq!(ready.pop(), Some(i));
            }
            prop_assert_eq!(ready.pop(), None);
        }
    }

    #[test]
    fn a_late_item_goes_before_newer_ones_of_its_level() {
        let mut r = Ready::default();
        r.push(2, (10, 1, 1));
        r.push(2, (20, 2, 2));
        r.push(2, (5, 3, 3)); // a released lease keeps its old place
        assert_eq!(r.pop(), Some((5, 3, 3)));
        assert_eq!(r.pop(), Some((10, 1, 1)));
        assert_eq!(r.pop(), Some((20, 2, 2)));
        assert!(r.is_empty());
    }
}
