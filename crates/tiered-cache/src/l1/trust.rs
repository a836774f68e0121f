//! Whether this instance may serve L1 without asking L2.
//!
//! An L1 entry is only as current as the invalidations applied to it. With Redis, the tier
//! sends a heartbeat through the invalidation channel every quarter of `coherence_bound`;
//! Redis delivers a heartbeat after every invalidation of a write that executed before it was
//! sent, and the cache's event loop applies events in order. So when the event loop has
//! applied a heartbeat sent at `s`, every write that returned before `s` has been applied to
//! L1, and L1 may be served until `s + coherence_bound` ("trusted"). A read after that, with
//! no newer heartbeat applied, does not serve L1: the channel may be down (Redis killed or
//! paused) or this process may be stalled. The check is one atomic load and a comparison
//! with the clock read the L1 path already makes.
//!
//! Tiers without heartbeats (the in-process [`crate::MemoryStore`], custom tiers) deliver
//! their events synchronously or not at all: L1 is always trusted there.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// `until` value meaning "always trusted" (no heartbeats expected).
const ALWAYS: u64 = u64::MAX;

#[derive(Debug)]
pub(crate) struct Trust {
    anchor: Instant,
    /// Nanoseconds after `anchor` until which L1 is trusted; [`ALWAYS`] without heartbeats.
    until: AtomicU64,
    bound: Duration,
}

impl Trust {
    /// L1 is always trusted (no heartbeats).
    pub(crate) fn always() -> Self {
        Trust { anchor: Instant::now(), until: AtomicU64::new(ALWAYS), bound: Duration::ZERO }
    }

    /// L1 is trusted for `bound` after each heartbeat; not at all before the first.
    pub(crate) fn heartbeats(bound: Duration) -> Self {
        Trust { anchor: Instant::now(), until: AtomicU64::new(0), bound }
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.anchor).as_nanos()).unwrap_or(ALWAYS - 1)
    }

    /// Whether L1 may be served at `now`.
    #[inline]
    pub(crate) fn holds(&self, now: Instant) -> bool {
        self.holds_at(self.snapshot(), now)
    }

    /// The proof as it stands now. Taken *before* an L1 read: an entry read after it is at
    /// least as current as the heartbeat it rests on (a heartbeat applied later could vouch
    /// for invalidations applied after the entry was read).
    #[inline]
    pub(crate) fn snapshot(&self) -> u64 {
        self.until.load(Ordering::Acquire)
    }

    /// Whether a `snapshot` lets L1 be served at `now`.
    #[inline]
    pub(crate) fn holds_at(&self, snapshot: u64, now: Instant) -> bool {
        snapshot == ALWAYS || self.nanos(now) < snapshot
    }

    /// Every change made in L2 before `sent` has been applied here.
    pub(crate) fn caught_up(&self, sent: Instant) {
        let until = self.nanos(sent).saturating_add(u64::try_from(self.bound.as_nanos()).unwrap_or(ALWAYS - 1));
        // Never ALWAYS by saturation, and never backwards (heartbeats may be handled late).
        let _ = self.until.fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
            (cur != ALWAYS && until.min(ALWAYS - 1) > cur).then_some(until.min(ALWAYS - 1))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn trusted_for_the_bound_after_each_heartbeat_and_never_backwards() {
        let t = Trust::heartbeats(Duration::from_millis(100));
        assert!(!t.holds(Instant::now()), "not before the first heartbeat");
        let sent = Instant::now();
        tokio::time::advance(Duration::from_millis(30)).await;
        t.caught_up(sent);
        assert!(t.holds(Instant::now()));
        assert!(t.holds(sent + Duration::from_millis(99)));
        assert!(!t.holds(sent + Duration::from_millis(100)), "the bound counts from the send");
        t.caught_up(t.anchor);
        assert!(t.holds(sent + Duration::from_millis(99)), "an older heartbeat does not shorten it");
        t.caught_up(sent + Duration::from_millis(50));
        assert!(t.holds(sent + Duration::from_millis(149)));
    }

    #[tokio::test(start_paused = true)]
    async fn always_trusted_without_heartbeats() {
        let t = Trust::always();
        tokio::time::advance(Duration::from_secs(3600)).await;
        t.caught_up(Instant::now());
        assert!(t.holds(Instant::now()));
    }
}
