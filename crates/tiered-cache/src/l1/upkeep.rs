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
//!
//! While L1 weighs less than half its budget nothing is about to be evicted: a run then only
//! orders the logs, and its fixed cost (locks, an epoch flush) dominates. Such a cache runs
//! them every [`EVERY_BELOW_HALF`]-th note instead, moka's own flush point, never later than
//! moka would.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::l1::L1;

/// Notes between two runs of moka's pending tasks once L1 weighs half its budget or more.
pub(crate) const EVERY: u32 = 16;
/// Notes between two runs while L1 weighs less than half its budget.
pub(crate) const EVERY_BELOW_HALF: u32 = 64;

#[derive(Debug)]
pub(crate) struct Upkeep {
    ops: AtomicU32,
    /// Half of L1's byte budget.
    half_budget: u64,
}

impl Upkeep {
    pub(crate) fn new(max_bytes: u64) -> Self {
        Upkeep { ops: AtomicU32::new(0), half_budget: max_bytes / 2 }
    }

    #[inline]
    pub(crate) async fn note<V: Clone + Send + Sync + 'static>(&self, l1: &L1<V>) {
        let n = self.ops.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if n.is_multiple_of(EVERY) && (n.is_multiple_of(EVERY_BELOW_HALF) || l1.weighted_size() >= self.half_budget) {
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
    async fn at_half_the_budget_every_sixteenth_note_applies_moka_logs_and_evicts_to_the_budget() {
        // Room for about 4 entries (100 + key + 96 overhead each).
        let l1 = build::<u32>(1_000, Duration::from_secs(60), None);
        // Told its half budget is 0 bytes: always at half or above.
        let upkeep = Upkeep::new(0);
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
    async fn below_half_the_budget_the_logs_wait_for_the_sixty_fourth_note() {
        let l1 = build::<u32>(1_000_000, Duration::from_secs(60), None);
        let upkeep = Upkeep::new(1_000_000);
        for i in 0..EVERY_BELOW_HALF - 1 {
            l1.insert(format!("k{i}"), entry()).await;
            upkeep.note(&l1).await;
        }
        assert_eq!(l1.entry_count(), 0, "a run before the 64th note, with L1 far below its budget");
        l1.insert(format!("k{}", EVERY_BELOW_HALF - 1), entry()).await;
        upkeep.note(&l1).await;
        assert_eq!(l1.entry_count(), u64::from(EVERY_BELOW_HALF), "the 64th note applied the logs");
        // Now weighing more than half of a smaller budget: back to every 16th note.
        let upkeep = Upkeep::new(2 * l1.weighted_size());
        for i in 0..EVERY {
            l1.insert(format!("x{i}"), entry()).await;
            upkeep.note(&l1).await;
        }
        assert_eq!(l1.entry_count(), u64::from(EVERY_BELOW_HALF + EVERY), "the 16th note applied the logs");
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
