//! A prefix-maximum index (Fenwick tree): the checker's sweep inserts writes and asks for the
//! largest one among the first `len` positions, both in O(log n).

#[derive(Debug)]
pub(super) struct PrefixMax<T> {
    // 1-based: tree[i] covers positions (i - lowbit(i), i].
    tree: Vec<Option<T>>,
}

impl<T: Ord + Copy> PrefixMax<T> {
    pub(super) fn new(len: usize) -> Self {
        Self { tree: vec![None; len + 1] }
    }

    /// Raises position `pos` (0-based) to at least `value`.
    pub(super) fn insert(&mut self, pos: usize, value: T) {
        let mut i = pos + 1;
        while i < self.tree.len() {
            self.tree[i] = self.tree[i].max(Some(value));
            i += i & i.wrapping_neg();
        }
    }

    /// The largest value at positions `0..len`.
    pub(super) fn max_before(&self, len: usize) -> Option<T> {
        let mut i = len.min(self.tree.len() - 1);
        let mut best = None;
        while i > 0 {
            best = best.max(self.tree[i]);
            i -= i & i.wrapping_neg();
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::PrefixMax;

    proptest! {
        #[test]
        fn prefix_max_matches_a_scan(
            inserts in proptest::collection::vec((0usize..20, 0u32..100), 0..40),
            len in 0usize..25,
        ) {
            let mut index = PrefixMax::new(20);
            let mut plain = [None; 20];
            for (pos, value) in inserts {
                index.insert(pos, value);
                plain[pos] = plain[pos].max(Some(value));
            }
            let expected = plain.iter().take(len).copied().max().flatten();
            prop_assert_eq!(index.max_before(len), expected);
        }
    }
}
