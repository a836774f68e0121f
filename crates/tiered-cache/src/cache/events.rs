//! Applying changes made elsewhere (other instances, FLUSHALL, reconnects) to this instance.

use std::sync::Weak;

use super::handle::Inner;
use crate::l2::{EventQueue, TierEvent};

/// The event loop of one cache; ends when the cache is dropped or the tier goes away.
/// A full queue (events were dropped) becomes one flush of L1.
pub(crate) async fn run<V: Clone + Send + Sync + 'static>(inner: Weak<Inner<V>>, mut q: EventQueue) {
    while let Some(event) = q.rx.recv().await {
        let Some(inner) = inner.upgrade() else { return };
        // Checked before each event (an overflow leaves a full queue behind, so this runs):
        // a heartbeat queued after a dropped event must not vouch for L1 before the flush.
        if q.take_overflow() {
            tracing::warn!(cache = %inner.cfg.name, "invalidation queue overflowed; flushing L1");
            inner.flush_l1("event queue overflow");
        }
        let invalidation = !matches!(event, TierEvent::LeaseReleased(_) | TierEvent::CaughtUp(_));
        inner.apply(event).await;
        // Counted once applied: a reader that sees the count also sees L1 without the keys.
        if invalidation {
            inner.counters.invalidations_received.add();
        }
    }
}

impl<V: Clone + Send + Sync + 'static> Inner<V> {
    pub(crate) async fn apply(&self, event: TierEvent) {
        match event {
            TierEvent::Keys(keys) => {
                for key in keys {
                    self.drop_key_locally(&key).await;
                }
            }
            TierEvent::Prefix(prefix) => self.drop_prefix_locally(&prefix).await,
            TierEvent::FlushAll => self.flush_l1("event"),
            // Only the waiters: L1, loads and refresh holds stay as they are.
            TierEvent::LeaseReleased(key) => self.wake(&key),
            // After every event queued before it: those invalidations are applied.
            TierEvent::CaughtUp(sent) => self.trust.caught_up(sent),
        }
    }

    /// Drops `key` here: from L1, from the running load (it is not stored), from reads
    /// about to promote it (the generation), and wakes lease waiters for it.
    pub(crate) async fn drop_key_locally(&self, key: &str) {
        self.gens.bump(key);
        self.flights.void(key);
        self.l1_remove(key).await;
        self.wake(key);
    }

    pub(crate) async fn drop_prefix_locally(&self, prefix: &str) {
        self.gens.bump_all();
        self.flights.void_prefix(prefix);
        if prefix.is_empty() {
            self.l1_clear();
        } else {
            // Prefix invalidations are rare: a scan of L1's keys, each removed and counted.
            for k in self.l1.keys().into_iter().filter(|k| k.starts_with(prefix)) {
                self.l1_remove(&k).await;
            }
        }
        for (k, n) in self.waiters.lock().iter() {
            if k.starts_with(prefix) {
                n.notify_waiters();
            }
        }
    }

    /// Removes `key` from L1, counting it as an explicit eviction when it was there.
    pub(crate) async fn l1_remove(&self, key: &str) {
        let removed = self.l1.remove(key).await;
        if removed.is_some() {
            self.counters.evict_explicit.add();
        }
    }

    /// Removes everything from L1; counts what it held as explicit evictions.
    fn l1_clear(&self) {
        self.counters.evict_explicit.add_n(self.l1.entry_count());
        self.l1.invalidate_all();
    }

    /// Drops everything in L1: invalidations may have been missed.
    pub(crate) fn flush_l1(&self, reason: &'static str) {
        tracing::debug!(cache = %self.cfg.name, reason, "flushing L1");
        self.gens.bump_all();
        self.counters.l1_flush.add();
        self.flights.void_prefix("");
        self.l1_clear();
        for n in self.waiters.lock().values() {
            n.notify_waiters();
        }
    }

    fn wake(&self, key: &str) {
        if let Some(n) = self.waiters.lock().get(key) {
            n.notify_waiters();
        }
    }
}
