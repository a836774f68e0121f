//! [`L1`]: a moka future cache sized in bytes, with per-entry expiry, and how it is built.

use std::sync::Arc;
use std::time::Duration;

use moka::{future::Cache, notification::RemovalCause};

use super::L1Entry;
use crate::stats::Counters;

/// Bytes counted for an entry on top of its key and encoded value (moka's node, the Arc, the
/// deadlines).
const ENTRY_OVERHEAD: u32 = 96;

/// Room for the entries L1 can hold, as an average entry of 1 KiB weighs (at most 64 Ki
/// entries, 512 KiB of buckets): without it moka's table starts small and, while a working
/// set churns through it (evictions, removals, promotions), rehashes again and again.
fn initial_capacity(max_bytes: u64) -> usize {
    usize::try_from(max_bytes / 1024).unwrap_or(usize::MAX).clamp(16, 1 << 16)
}

/// Keys are hashed with foldhash (seeded per cache) rather than SipHash: hashing was about 5 %
/// of an L2 hit's CPU time in the profile.
pub(crate) type L1<V> = Cache<String, Arc<L1Entry<V>>, foldhash::quality::RandomState>;

/// Builds L1. With `size_evictions`, a moka eviction listener counts evictions by size;
/// without it there is no listener, because moka then takes a per-key lock on every insert and
/// removal to order notifications: about 1 µs more per promotion (measured, see
/// docs/decisions/0024). Explicit removals and expiry are counted by the cache itself.
/// Expiry is checked by the cache on every read against each entry's own `hard`
/// deadline (tokio time, so paused-time tests drive it); moka only gets one global
/// time-to-live, the longest lifetime any entry can have, to reclaim memory. Per-entry expiry
/// in moka (its timer wheel) made every hit about 1.6x slower in the L1 bench.
pub(crate) fn build<V: Clone + Send + Sync + 'static>(
    max_bytes: u64,
    longest_ttl: Duration,
    size_evictions: Option<Arc<Counters>>,
) -> L1<V> {
    let builder = Cache::builder()
        .max_capacity(max_bytes)
        .weigher(|k: &String, v: &Arc<L1Entry<V>>| {
            (k.len() as u32).saturating_add(v.size).saturating_add(ENTRY_OVERHEAD)
        })
        .time_to_live(longest_ttl)
        .initial_capacity(initial_capacity(max_bytes));
    match size_evictions {
        None => builder.build_with_hasher(foldhash::quality::RandomState::default()),
        Some(counters) => builder
            .eviction_listener(move |_k, _v, cause| {
                if cause == RemovalCause::Size {
                    counters.evict_size.add();
                }
            })
            .build_with_hasher(foldhash::quality::RandomState::default()),
    }
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
        let l1 = build::<String>(1 << 20, Duration::from_secs(60), None);
        let now = Instant::now();
        // The weigher reads `size` (the entry's bytes in L2), not the value in memory.
        let in_memory = "x".repeat(10_000);
        l1.insert("key".into(), Arc::new(L1Entry::new(Some(in_memory), now, now, now, 1_000))).await;
        l1.run_pending_tasks().await;
        assert_eq!(ENTRY_OVERHEAD, 96);
        assert_eq!(l1.weighted_size(), 3 + 1_000 + 96);
    }

    #[tokio::test]
    async fn a_cached_value_weighs_its_header_and_encoded_bytes() {
        let weight = |key: &str, encoded: usize| (key.len() + HEADER_LEN + encoded) as u64 + 96;
        let strings = crate::TieredCache::<String>::builder("weigh").build().await.unwrap();
        strings.set("s", "abc".into()).await.unwrap();
        strings.run_pending_tasks().await;
        // postcard: a 1-byte length varint, then the bytes.
        assert_eq!(strings.stats().l1_bytes, weight("s", 1 + 3));
        let numbers = crate::TieredCache::<u64>::builder("weigh").build().await.unwrap();
        numbers.set("n", 7).await.unwrap();
        numbers.run_pending_tasks().await;
        // A small integer is 1 byte encoded, 8 in memory.
        assert_eq!(numbers.stats().l1_bytes, weight("n", 1));
    }
}
