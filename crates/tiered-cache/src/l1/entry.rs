//! One L1 entry: the value, its soft and hard deadlines, and its refresh backoff.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// One L1 entry. `value: None` is a cached "not found".
#[derive(Debug)]
pub(crate) struct L1Entry<V> {
    pub(crate) value: Option<V>,
    /// After this the value is stale: served once more while one refresh runs.
    pub(crate) soft: Instant,
    /// After this the entry is gone.
    pub(crate) hard: Instant,
    /// When it was put in L1: while the invalidation channel is not current and L2 is
    /// unreachable, only entries younger than `degraded_l1_ttl` are served (see `trust`).
    pub(crate) filled: Instant,
    /// Encoded size in bytes (the weigher's input).
    pub(crate) size: u32,
    /// Set by the first read that finds the entry past `hard`, so an expiry is counted once.
    pub(crate) expired_seen: AtomicBool,
    /// After a failed refresh: milliseconds after `soft` before the next refresh may start
    /// (0: no hold).
    refresh_held_ms: AtomicU64,
}

impl<V> L1Entry<V> {
    pub(crate) fn new(value: Option<V>, filled: Instant, soft: Instant, hard: Instant, size: u32) -> Self {
        L1Entry {
            value,
            soft,
            hard,
            filled,
            size,
            expired_seen: AtomicBool::new(false),
            refresh_held_ms: AtomicU64::new(0),
        }
    }

    /// Whether a stale read may start a refresh at `now` (not while a failed one's backoff
    /// holds).
    pub(crate) fn refresh_due(&self, now: Instant) -> bool {
        let held = self.refresh_held_ms.load(Ordering::Relaxed);
        held == 0 || self.soft.checked_add(Duration::from_millis(held)).is_some_and(|at| now >= at)
    }

    /// A refresh failed at `now`: no other starts for `backoff`.
    pub(crate) fn hold_refresh(&self, now: Instant, backoff: Duration) {
        let ms = (now.saturating_duration_since(self.soft) + backoff).as_millis();
        self.refresh_held_ms.store(u64::try_from(ms).unwrap_or(u64::MAX).max(1), Ordering::Relaxed);
    }
}
