//! moka's housekeeping in small slices on the L2 path.
//!
//! moka queues every read and write in two logs and applies them (frequency sketch, LRU
//! order, evictions) inline, on whichever caller finds a log at 64 entries. When every
//! promotion evicts (a working set larger than L1), that batch of about 64 inserts and
//! evictions cost one read in ~64 some tens of µs: above the 1 % line, so it was the p99 of an
//! L2 hit. The cache counts what it adds to the logs on the L2 path (an L1 miss, a promotion,
//! an L1 write or removal) and every [`EVERY`]-th caller runs moka's pending tasks itself, so
//! the logs never reach the inline flush point under steady load and each run is a quarter of
//! the size. A background task doing the same was tried and measured worse (decision 0025).

use std::sync::atomic::{AtomicU32, Ordering};

use crate::l1::L1;

/// Log entries between two maintenance runs: a quarter of moka's flush point (64).
pub(crate) const EVERY: u32 = 16;

/// Counts entries added to moka's logs on the L2 path.
#[derive(Debug, Default)]
pub(crate) struct Upkeep {
    ops: AtomicU32,
}

impl Upkeep {
    /// Counts one log entry; every [`EVERY`]-th runs moka's pending tasks on this caller.
    #[inline]
    pub(crate) async fn note<V: Clone + Send + Sync + 'static>(&self, l1: &L1<V>) {
        if self.ops.fetch_add(1, Ordering::Relaxed) % EVERY == EVERY - 1 {
            l1.run_pending_tasks().await;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::l1::{build, L1Entry};

    fn entry() -> Arc<L1Entry<u32>> {
        let now = tokio::time::Instant::now();
        Arc::new(L1Entry::new(Some(1), now, now + Duration::from_secs(60), now + Duration::from_secs(60), 100))
    }

    #[tokio::test]
    async fn every_sixteenth_write_applies_moka_logs_and_evicts_to_the_budget() {
        // Room for about 4 entries (100 + key + 96 overhead each).
        let l1 = build::<u32>(1_000, Duration::from_secs(60), None);
        let upkeep = Upkeep::default();
        for i in 0..EVERY - 1 {
            l1.insert(format!("k{i}"), entry()).await;
            upkeep.note(&l1).await;
        }
        // moka's counters only move when its logs are applied: nothing applied yet.
        assert_eq!(l1.entry_count(), 0);
        l1.insert(format!("k{}", EVERY - 1), entry()).await;
        upkeep.note(&l1).await;
        assert!(l1.entry_count() > 0, "the 16th note applied the logs");
        assert!(l1.weighted_size() <= 1_000, "evicted to the budget: {}", l1.weighted_size());
    }

    #[tokio::test]
    async fn a_promotion_burst_stays_within_the_l1_budget_without_explicit_housekeeping() {
        let store = crate::MemoryStore::new();
        let writer = crate::TieredCache::<String>::builder("upkeep").tier(store.tier()).build().await.unwrap();
        for i in 0..200 {
            writer.set(&format!("k{i}"), "v".repeat(100)).await.unwrap();
        }
        let small = crate::TieredCache::<String>::builder("upkeep")
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
        // moka's counters move only when its logs are applied (here by the slices and by
        // moka's own flush); the budget holds either way.
        assert!(s.l1_entries > 0, "no housekeeping ran");
        assert!(s.l1_bytes <= 4 * 1024, "over the budget: {} bytes", s.l1_bytes);
    }
}
