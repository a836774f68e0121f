//! [`L1`]: a concurrent map sized in bytes (quick_cache), and how it is built.

use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::{Lifecycle, OptionsBuilder, Weighter};

use super::L1Entry;
use crate::stats::Counters;

/// Bytes counted for an entry on top of its key and encoded value (the map's slot, the key's
/// `String`, the `Arc` and the deadlines).
const ENTRY_OVERHEAD: u32 = 96;

/// Room for the entries L1 can hold, as an average entry of 1 KiB weighs (at most 64 Ki
/// entries): the map sizes its shards and its table from it, so a working set churning
/// through L1 does not grow the table again and again.
fn estimated_items(max_bytes: u64) -> usize {
    usize::try_from(max_bytes / 1024).unwrap_or(usize::MAX).clamp(16, 1 << 16)
}

/// Shards for a budget: at most four per CPU (quick_cache's default), and few enough that each
/// holds four entries of the largest value the cache accepts, so whether a value is kept in
/// L1 does not depend on the host's CPU count. quick_cache halves it again for small budgets
/// (each shard sized for at least 32 entries).
fn shards(max_bytes: u64, max_value_bytes: usize) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let largest = (max_value_bytes as u64).saturating_add(u64::from(ENTRY_OVERHEAD)).max(1);
    let fit = usize::try_from(max_bytes / largest.saturating_mul(4)).unwrap_or(usize::MAX).max(1);
    // A power of two (quick_cache rounds up otherwise, which would overshoot `fit`).
    let fit = 1usize << (usize::BITS - 1 - fit.leading_zeros());
    fit.min(cpus.saturating_mul(4)).max(1)
}

/// What an entry weighs: its key, its bytes in L2, [`ENTRY_OVERHEAD`].
#[derive(Debug, Clone, Copy)]
struct Weigh;

impl<V> Weighter<String, Arc<L1Entry<V>>> for Weigh {
    #[inline]
    fn weight(&self, key: &String, e: &Arc<L1Entry<V>>) -> u64 {
        key.len() as u64 + u64::from(e.size) + u64::from(ENTRY_OVERHEAD)
    }
}

/// Counts evictions by size when asked to (in `before_evict`, which quick_cache calls for an
/// entry evicted to make room and for one too heavy to keep, not for a replaced value, which
/// goes through `on_evict` too), and drops up to two removed entries after the shard's lock is
/// released (a value's `Drop` may be slow), as quick_cache's default does.
#[derive(Debug, Clone)]
struct Evictions(Option<Arc<Counters>>);

type Evicted<V> = [Option<(String, Arc<L1Entry<V>>)>; 2];

impl<V> Lifecycle<String, Arc<L1Entry<V>>> for Evictions {
    type RequestState = Evicted<V>;

    #[inline]
    fn begin_request(&self) -> Self::RequestState {
        [None, None]
    }

    #[inline]
    fn before_evict(&self, _state: &mut Self::RequestState, _key: &String, _e: &mut Arc<L1Entry<V>>) {
        if let Some(c) = &self.0 {
            c.evict_size.add();
        }
    }

    #[inline]
    fn on_evict(&self, state: &mut Self::RequestState, key: String, e: Arc<L1Entry<V>>) {
        if let Some(slot) = state.iter_mut().find(|s| s.is_none()) {
            *slot = Some((key, e));
        }
    }
}

/// L1: keys to entries, bounded by the weight of what it holds. Every operation is applied
/// at once under the key's shard lock: a `remove` that returned is seen by every later `get`,
/// which the cache's coherence rules rely on. Expiry is checked by the cache on every read
/// against each entry's own `hard` deadline; an expired entry leaves when it is replaced,
/// removed or evicted to make room (it counts against the budget until then).
///
/// The methods are `async` only so that call sites read like the rest of the cache's L1 path;
/// none of them waits.
pub(crate) struct L1<V> {
    map: Cache<String, Arc<L1Entry<V>>, Weigh, foldhash::quality::RandomState, Evictions>,
}

impl<V> std::fmt::Debug for L1<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L1").field("entries", &self.map.len()).field("weight", &self.map.weight()).finish()
    }
}

impl<V: Clone + Send + Sync + 'static> L1<V> {
    #[inline]
    pub(crate) async fn get(&self, key: &str) -> Option<Arc<L1Entry<V>>> {
        self.map.get(key)
    }

    #[inline]
    pub(crate) async fn insert(&self, key: String, e: Arc<L1Entry<V>>) {
        self.map.insert(key, e);
    }

    /// Removes `key`; returns what it held.
    #[inline]
    pub(crate) async fn remove(&self, key: &str) -> Option<Arc<L1Entry<V>>> {
        self.map.remove(key).map(|(_, e)| e)
    }

    pub(crate) async fn invalidate(&self, key: &str) {
        drop(self.map.remove(key));
    }

    pub(crate) fn invalidate_all(&self) {
        self.map.clear();
    }

    /// The keys held now (a copy: L1 may change while the caller goes through them).
    pub(crate) fn keys(&self) -> Vec<String> {
        self.map.iter().map(|(k, _)| k).collect()
    }

    pub(crate) fn entry_count(&self) -> u64 {
        self.map.len() as u64
    }

    pub(crate) fn weighted_size(&self) -> u64 {
        self.map.weight()
    }
}

/// Builds L1. With `size_evictions`, evictions to make room are counted there; explicit
/// removals and expiry are counted by the cache itself. Keys are hashed with foldhash (seeded
/// per cache) rather than SipHash: hashing was about 5 % of an L2 hit's CPU time in a profile.
pub(crate) fn build<V: Clone + Send + Sync + 'static>(
    max_bytes: u64,
    max_value_bytes: usize,
    size_evictions: Option<Arc<Counters>>,
) -> L1<V> {
    let hasher = foldhash::quality::RandomState::default();
    let evictions = Evictions(size_evictions);
    let mut options = OptionsBuilder::new();
    options
        .estimated_items_capacity(estimated_items(max_bytes))
        .weight_capacity(max_bytes)
        .shards(shards(max_bytes, max_value_bytes));
    let map = match options.build() {
        Ok(options) => Cache::with_options(options, Weigh, hasher, evictions),
        // Refused only without the two capacities, both set above.
        Err(_) => Cache::with(estimated_items(max_bytes), max_bytes, Weigh, hasher, evictions),
    };
    L1 { map }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::l2::HEADER_LEN;
    use tokio::time::Instant;

    /// The docs of `l1_max_bytes` state this formula; change them together.
    #[tokio::test]
    async fn an_entry_weighs_its_key_its_l2_bytes_and_96() {
        let l1 = build::<String>(1 << 20, 1 << 20, None);
        let now = Instant::now();
        // The weigher reads `size` (the entry's bytes in L2), not the value in memory.
        let in_memory = "x".repeat(10_000);
        l1.insert("key".into(), Arc::new(L1Entry::new(Some(in_memory), now, now, now, 1_000))).await;
        assert_eq!(ENTRY_OVERHEAD, 96);
        assert_eq!(l1.weighted_size(), 3 + 1_000 + 96);
    }

    #[tokio::test]
    async fn a_cached_value_weighs_its_header_and_encoded_bytes() {
        let weight = |key: &str, encoded: usize| (key.len() + HEADER_LEN + encoded) as u64 + 96;
        let strings = crate::TieredCache::<String>::builder("weigh").build().await.unwrap();
        strings.set("s", "abc".into()).await.unwrap();
        // postcard: a 1-byte length varint, then the bytes.
        assert_eq!(strings.stats().l1_bytes, weight("s", 1 + 3));
        let numbers = crate::TieredCache::<u64>::builder("weigh").build().await.unwrap();
        numbers.set("n", 7).await.unwrap();
        // A small integer is 1 byte encoded, 8 in memory.
        assert_eq!(numbers.stats().l1_bytes, weight("n", 1));
    }

    #[test]
    fn a_shard_holds_four_of_the_largest_values_whatever_the_cpu_count() {
        for (budget, largest) in [(64u64 << 20, 1usize << 20), (1 << 30, 1 << 20), (1 << 20, 1 << 20), (64 << 10, 512)]
        {
            let n = shards(budget, largest);
            assert!(n.is_power_of_two(), "{n}");
            let per_shard = budget / n as u64;
            assert!(
                n == 1 || per_shard >= 4 * (largest as u64 + u64::from(ENTRY_OVERHEAD)),
                "budget {budget}, largest {largest}: {n} shards of {per_shard} bytes"
            );
            let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
            assert!(n <= 4 * cpus);
        }
    }

    #[tokio::test]
    async fn a_promotion_burst_stays_within_the_l1_budget() {
        let store = crate::MemoryStore::new();
        let writer = crate::TieredCache::<String>::builder("burst").tier(store.tier()).build().await.unwrap();
        for i in 0..200 {
            writer.set(&format!("k{i}"), "v".repeat(100)).await.unwrap();
        }
        let small = crate::TieredCache::<String>::builder("burst")
            .tier(store.tier())
            .l1_max_bytes(4 * 1024)
            .build()
            .await
            .unwrap();
        for i in 0..200 {
            assert_eq!(small.get(&format!("k{i}")).await.unwrap(), Some("v".repeat(100)));
        }
        let s = small.stats();
        assert_eq!((s.l1_hits, s.l2_hits), (0, 200), "every read was an L2 hit, promoted");
        assert!(s.l1_entries > 0, "nothing was kept");
        assert!(s.l1_bytes <= 4 * 1024, "over the budget: {} bytes", s.l1_bytes);
    }
}
