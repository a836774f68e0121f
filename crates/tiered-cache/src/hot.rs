//! Tracks which keys are hot: a bounded map of decaying counters.

use std::collections::HashMap;

use parking_lot::Mutex;

/// Counts accesses (misses always, hits sampled) for at most `4 × capacity` keys; when full,
/// all counts are halved and zeros dropped, so old heat fades.
#[derive(Debug)]
pub(crate) struct HotKeys {
    counts: Mutex<HashMap<String, u32>>,
    limit: usize,
}

impl HotKeys {
    pub(crate) fn new(capacity: usize) -> Self {
        HotKeys { counts: Mutex::new(HashMap::new()), limit: capacity.max(1).saturating_mul(4) }
    }

    pub(crate) fn record(&self, key: &str) {
        let mut counts = self.counts.lock();
        if let Some(c) = counts.get_mut(key) {
            *c = c.saturating_add(1);
            return;
        }
        if counts.len() >= self.limit {
            counts.retain(|_, c| {
                *c /= 2;
                *c > 0
            });
            if counts.len() >= self.limit {
                return;
            }
        }
        counts.insert(key.to_owned(), 1);
    }

    pub(crate) fn top(&self, n: usize) -> Vec<String> {
        let counts = self.counts.lock();
        let mut all: Vec<(&String, &u32)> = counts.iter().collect();
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
        assert!(hot.counts.lock().len() <= 8);
    }
}
