//! One shard of a keyed rate limit: its keys' buckets, and the bounded eviction that makes
//! room for a new key.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use crate::rate::Gcra;

/// Most remembered keys one call examines to make room: eviction never scans a shard.
const EVICT_STEP: usize = 8;

/// The keys of one shard: their buckets' TATs, and every key once in the order eviction
/// examines them (insertion order, with examined live keys moved to the back).
#[derive(Debug)]
pub(super) struct Shard<K> {
    pub(super) tats: HashMap<K, u64>,
    pub(super) order: VecDeque<K>,
}

impl<K> Default for Shard<K> {
    fn default() -> Self {
        Self { tats: HashMap::new(), order: VecDeque::new() }
    }
}

/// Removes one key of a full shard, examining at most [`EVICT_STEP`] keys; returns how many
/// it examined.
pub(super) fn evict_one<K: Hash + Eq>(shard: &mut Shard<K>, now: u64, gcra: &Gcra) -> usize {
    // The live key closest to a full bucket seen so far: evicted if no fresh key turns up.
    let mut victim: Option<(K, u64)> = None;
    let mut examined = 0;
    while examined < EVICT_STEP {
        let Some(key) = shard.order.pop_front() else { break };
        examined += 1;
        let Some(&tat) = shard.tats.get(&key) else { continue };
        if gcra.is_fresh(tat, now) {
            shard.tats.remove(&key);
            if let Some((v, _)) = victim {
                shard.order.push_back(v);
            }
            return examined;
        }
        match &victim {
            Some((_, best)) if *best <= tat => shard.order.push_back(key),
            _ => {
                if let Some((v, _)) = victim.replace((key, tat)) {
                    shard.order.push_back(v);
                }
            }
        }
    }
    if let Some((v, _)) = victim {
        shard.tats.remove(&v);
        tracing::trace!("keyed rate limit shard full; evicted a live key");
    }
    examined
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn full_shard(n: u64, live_from: u64) -> Shard<u64> {
        let mut s = Shard::default();
        for k in 0..n {
            // Keys below `live_from` have a TAT in the past (fresh), the rest in the future.
            let tat = if k < live_from { 1 } else { 1_000 + k };
            s.tats.insert(k, tat);
            s.order.push_back(k);
        }
        s
    }

    #[test]
    fn eviction_examines_a_bounded_number_of_keys_in_a_huge_shard() {
        let gcra = Gcra::per_second(1.0, 1).unwrap();
        // 100,000 live keys: the old eviction scanned them all (twice) under the lock.
        let mut s = full_shard(100_000, 0);
        for round in 1..=1_000 {
            let examined = evict_one(&mut s, 10, &gcra);
            assert!(examined <= EVICT_STEP, "examined {examined}");
            assert_eq!(s.tats.len(), 100_000 - round, "each call frees exactly one place");
            assert_eq!(s.order.len(), s.tats.len(), "every key once in the eviction order");
        }
    }

    #[test]
    fn a_fresh_key_goes_before_a_live_one_and_the_least_indebted_live_key_next() {
        let gcra = Gcra::per_second(1.0, 1).unwrap();
        let mut s = full_shard(16, 0);
        *s.tats.get_mut(&5).unwrap() = 1; // fresh, among the first 8 examined
        evict_one(&mut s, 10, &gcra);
        assert!(!s.tats.contains_key(&5));
        assert_eq!(s.tats.len(), 15);
        // No fresh key among the next 8 examined: the smallest TAT among them goes.
        let mut s = full_shard(16, 0);
        evict_one(&mut s, 10, &gcra);
        assert!(!s.tats.contains_key(&0), "key 0 has the smallest TAT of the 8 examined");
        assert_eq!(s.order.len(), 15);
    }
}
