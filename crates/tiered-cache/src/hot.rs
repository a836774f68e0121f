//! Tracks which keys are hot: a bounded map of decaying counters.

use std::collections::HashMap;

use parking_lot::Mutex;

/// Counts accesses (misses always, hits sampled) for at most `4 × capacity` keys. Every
/// `8 × limit` records all counts are halved and zeros dropped (amortised O(1)), so old heat
/// fades and new keys find room; while the map is full, new keys are not tracked.
#[derive(Debug)]
pub(crate) struct HotKeys {
    counts: Mutex<Counts>,
    limit: usize,
}

#[derive(Debug, Default)]
struct Counts {
    by_key: HashMap<String, u32>,
    since_decay: usize,
}

impl HotKeys {
    pub(crate) fn new(capacity: usize) -> Self {
        HotKeys { counts: Mutex::new(Counts::default()), limit: capacity.max(1).saturating_mul(4) }
    }

    pub(crate) fn record(&self, key: &str) {
        let mut counts = self.counts.lock();
        counts.since_decay += 1;
        if counts.since_decay >= self.limit.saturating_mul(8) {
            counts.since_decay = 0;
            counts.by_key.retain(|_, c| {
                *c /= 2;
                *c > 0
            });
        }
        if let Some(c) = counts.by_key.get_mut(key) {
            *c = c.saturating_add(1);
        } else if counts.by_key.len() < self.limit {
            counts.by_key.insert(key.to_owned(), 1);
        }
    }

    pub(crate) fn top(&self, n: usize) -> Vec<String> {
        let counts = self.counts.lock();
        let mut all: Vec<(&String, &u32)> = counts.by_key.iter().collect();
        all.sort_unstable_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        all.into_iter().take(n).map(|(k, _)| k.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hottest_first_and_bounded() {
        let hot = HotKeys::new(2);
        for _ in 0..5 {
            hot.record("a");
        }
        for _ in 0..3 {
            hot.record("b");
        }
        hot.record("c");
        assert_eq!(hot.top(2), vec!["a".to_owned(), "b".to_owned()]);
        for i in 0..100 {
            hot.record(&format!("k{i}"));
        }
        assert!(hot.counts.lock().by_key.len() <= 8);
        assert_eq!(hot.top(1), vec!["a".to_owned()], "a decay keeps the order");
    }
}
