//! Tracks which keys are hot: sharded maps of decaying counters, keyed by a hash of the key.
//!
//! Cheap on the read path: one hash, one `try_lock` of one of 16 shards (skipped, not waited
//! for, under contention), and no allocation until a key has been seen [`PROMOTE_AT`] times —
//! only then is its name copied, so one-off keys cost no `String`.

use std::collections::HashMap;
use std::hash::BuildHasher;

use parking_lot::Mutex;

const SHARDS: usize = 16;
/// Accesses after which a key's name is kept (a key seen once is not worth a copy).
const PROMOTE_AT: u32 = 2;

/// Counts accesses for at most about `4 × capacity` keys. Each shard halves its counts every
/// `8 ×` its share of the limit records (amortised O(1)), so old heat fades and new keys
/// find room; while a shard is full, new keys are not tracked there.
#[derive(Debug)]
pub(crate) struct HotKeys {
    shards: Box<[Mutex<Shard>]>,
    hasher: foldhash::quality::RandomState,
    shard_limit: usize,
}

#[derive(Debug, Default)]
struct Shard {
    by_hash: HashMap<u64, Slot>,
    since_decay: usize,
}

#[derive(Debug)]
struct Slot {
    count: u32,
    key: Option<Box<str>>,
}

impl HotKeys {
    pub(crate) fn new(capacity: usize) -> Self {
        let limit = capacity.max(1).saturating_mul(4);
        HotKeys {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: foldhash::quality::RandomState::default(),
            shard_limit: limit.div_ceil(SHARDS).max(1),
        }
    }

    /// Records `weight` accesses (a sampled hit stands for the hits not sampled); skipped
    /// when the shard is busy (it is a sample anyway).
    pub(crate) fn record(&self, key: &str, weight: u32) {
        let h = self.hasher.hash_one(key);
        let Some(mut shard) = self.shards[(h as usize) % SHARDS].try_lock() else { return };
        shard.since_decay += 1;
        if shard.since_decay >= self.shard_limit.saturating_mul(8) {
            shard.since_decay = 0;
            shard.by_hash.retain(|_, s| {
                s.count /= 2;
                s.count > 0
            });
        }
        if let Some(s) = shard.by_hash.get_mut(&h) {
            s.count = s.count.saturating_add(weight);
            if s.key.is_none() && s.count >= PROMOTE_AT {
                s.key = Some(key.into());
            }
        } else if shard.by_hash.len() < self.shard_limit {
            let key = (weight >= PROMOTE_AT).then(|| key.into());
            shard.by_hash.insert(h, Slot { count: weight, key });
        }
    }

    /// The `n` hottest keys whose names are known, hottest first.
    pub(crate) fn top(&self, n: usize) -> Vec<String> {
        let mut all: Vec<(u32, String)> = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            all.extend(shard.by_hash.values().filter_map(|s| s.key.as_deref().map(|k| (s.count, k.to_owned()))));
        }
        all.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        all.into_iter().take(n).map(|(_, k)| k).collect()
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.shards.iter().map(|s| s.lock().by_hash.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hottest_first_and_bounded() {
        let hot = HotKeys::new(64);
        for _ in 0..5 {
            hot.record("a", 1);
        }
        for _ in 0..3 {
            hot.record("b", 1);
        }
        hot.record("c", 1);
        assert_eq!(hot.top(2), vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(hot.top(5).len(), 2, "c was seen once: its name is not kept");
        for i in 0..100 {
            hot.record(&format!("k{i}"), 1);
        }
        assert_eq!(hot.top(1), vec!["a".to_owned()], "one-off keys do not displace a hot one");
        for i in 0..100_000 {
            hot.record(&format!("k{i}"), 1);
        }
        assert!(hot.tracked() <= 64 * 4 + SHARDS, "bounded: {}", hot.tracked());
    }

    #[test]
    fn a_sampled_hit_counts_for_the_hits_it_stands_for() {
        let hot = HotKeys::new(64);
        for _ in 0..10 {
            hot.record("missed", 1);
        }
        hot.record("hit", 16);
        assert_eq!(hot.top(2), vec!["hit".to_owned(), "missed".to_owned()]);
    }

    #[test]
    fn a_busy_shard_is_skipped_not_waited_for() {
        let hot = HotKeys::new(10);
        let h = hot.hasher.hash_one("a");
        let guard = hot.shards[(h as usize) % SHARDS].lock();
        hot.record("a", 1); // would deadlock with a blocking lock
        drop(guard);
        hot.record("a", 1);
        hot.record("a", 1);
        assert_eq!(hot.top(1), vec!["a".to_owned()]);
    }
}
