//! The lookups every path shares: what L1 and L2 hold for a key ([`L1Look`], [`L2Look`]),
//! decoding an L2 entry, and promoting it into L1.

use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use tokio::time::Instant;

use super::handle::Inner;
use crate::error::DecodeError;
use crate::l1::L1Entry;
use crate::l2::{key_fingerprint, Guarded, Header};
use crate::ttl::Clock;

/// What L1 had for a key.
pub(crate) enum L1Look<V> {
    Fresh(Option<V>),
    /// Past the soft TTL; `true` when a refresh may start (no failed one's backoff holds).
    Stale(Option<V>, bool),
    Miss,
}

/// What L2 had for a key.
pub(crate) enum L2Look<V> {
    Fresh(Arc<L1Entry<V>>),
    Stale(Arc<L1Entry<V>>),
    Miss,
    Unavailable,
}

/// One L1 hit in this many is recorded in the hot-key counts (with this weight).
const HIT_SAMPLE: u32 = 16;

thread_local! {
    /// xorshift32 state, seeded at random per thread on first use (0: not yet): hits are
    /// sampled at random, so a fixed access order cannot alias with the sampling stride and
    /// threads do not sample in lockstep.
    static SAMPLE: Cell<u32> = const { Cell::new(0) };
}

impl<V: Clone + Send + Sync + 'static> Inner<V> {
    /// Promotes an L2 hit into L1 unless an invalidation happened since `generation` (read
    /// before the L2 read). Checked again after the insert: an invalidation that lands between
    /// the check and the insert found nothing to remove, so the entry is removed here.
    pub(crate) async fn promote(&self, key: &str, e: Arc<L1Entry<V>>, generation: u64) {
        if self.gens.of(key) != generation {
            return;
        }
        self.l1.insert(key.to_owned(), e).await;
        if self.gens.of(key) != generation {
            self.l1.invalidate(key).await;
        }
    }

    pub(crate) async fn look_l1(&self, key: &str) -> L1Look<V> {
        let trust = self.trust.snapshot();
        let Some(e) = self.l1.get(key).await else {
            self.counters.l1_miss.add();
            self.hot.record(key, 1);
            return L1Look::Miss;
        };
        let sample = SAMPLE.with(|c| {
            let mut x = c.get();
            if x == 0 {
                x = rand::random::<u32>() | 1;
            }
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            c.set(x);
            x % HIT_SAMPLE == 0
        });
        if sample {
            self.hot.record(key, HIT_SAMPLE);
        }
        let now = Instant::now();
        if now >= e.hard {
            // Left for the next fill (which replaces it), a removal or an eviction.
            self.counters.l1_miss.add();
            if !e.expired_seen.swap(true, Ordering::Relaxed) {
                self.counters.evict_expired.add();
            }
            return L1Look::Miss;
        }
        if !self.trust.holds_at(trust, now) && !self.servable_untrusted(&e, now) {
            self.counters.l1_miss.add();
            self.counters.l1_unverified.add();
            return L1Look::Miss;
        }
        if e.value.is_none() {
            self.counters.negative_hit.add();
        }
        if now >= e.soft {
            self.counters.stale_served.add();
            return L1Look::Stale(e.value.clone(), e.refresh_due(now));
        }
        self.counters.l1_hit.add();
        L1Look::Fresh(e.value.clone())
    }

    /// Without proof that the invalidation channel is current: an entry is served only while
    /// L2 is unreachable too (the breaker is open) and only if younger than `degraded_l1_ttl`;
    /// otherwise the read goes to L2, which is current by definition.
    #[cold]
    pub(crate) fn servable_untrusted(&self, e: &L1Entry<V>, now: Instant) -> bool {
        self.l2.as_ref().is_some_and(crate::l2::L2Guard::is_open)
            && now.saturating_duration_since(e.filled) < self.cfg.degraded_l1_ttl
    }

    pub(crate) async fn look_l2(&self, key: &str) -> L2Look<V> {
        let Some(l2) = &self.l2 else { return L2Look::Unavailable };
        if self.pending.covers(key) {
            // L2 may still hold the value from before a write it has not confirmed.
            self.counters.l2_miss.add();
            return L2Look::Miss;
        }
        let bytes = match l2.call("get", |t| t.get(key)).await {
            Guarded::Done(Some(b)) => b,
            Guarded::Done(None) => {
                self.counters.l2_miss.add();
                return L2Look::Miss;
            }
            Guarded::Unavailable => return L2Look::Unavailable,
            Guarded::Corrupt => {
                // Not a cache entry (counted by the guard): a miss, so a load overwrites it.
                tracing::warn!(cache = %self.cfg.name, key, "L2 holds no cache entry there, treated as a miss");
                self.counters.l2_miss.add();
                return L2Look::Miss;
            }
        };
        let now = Instant::now();
        match self.decode_entry(key, &bytes, now) {
            Some(e) => {
                if now >= e.hard {
                    self.counters.l2_miss.add();
                    L2Look::Miss
                } else if now >= e.soft {
                    self.counters.l2_hit.add();
                    L2Look::Stale(Arc::new(e))
                } else {
                    self.counters.l2_hit.add();
                    if e.value.is_none() {
                        self.counters.negative_hit.add();
                    }
                    L2Look::Fresh(Arc::new(e))
                }
            }
            None => {
                self.counters.l2_miss.add();
                L2Look::Miss
            }
        }
    }

    /// Header + payload to an L1 entry with the remaining lifetimes; corrupt or foreign bytes
    /// are counted and become a miss. So is a payload over this cache's `max_value_bytes`
    /// (written by an instance with a larger limit): L1's budget and the write path assume the
    /// limit, so such an entry is neither decoded nor promoted.
    pub(crate) fn decode_entry(&self, key: &str, bytes: &Bytes, now: Instant) -> Option<L1Entry<V>> {
        let parsed = Header::read(bytes, self.codec_id, key_fingerprint(key)).and_then(|(h, payload)| {
            let max = self.cfg.max_value_bytes;
            if payload.len() > max {
                return Err(DecodeError::TooLarge { len: payload.len(), max });
            }
            let value = if h.negative { None } else { Some(self.codec.decode(payload).map_err(DecodeError::Payload)?) };
            Ok((h, value))
        });
        match parsed {
            Ok((h, value)) => {
                let now_ms = self.clock.ms_at(now);
                Some(L1Entry::new(
                    value,
                    now,
                    Clock::deadline(now, now_ms, h.soft_ms),
                    Clock::deadline(now, now_ms, h.hard_ms),
                    u32::try_from(bytes.len()).unwrap_or(u32::MAX),
                ))
            }
            Err(DecodeError::WrongKey) => {
                // Another key's entry: the tier's replies may be out of step with its commands
                // (decision 0049). Never served; the tier gets the chance to start afresh.
                self.counters.l2_corrupt.add();
                tracing::error!(cache = %self.cfg.name, key, "L2 answered with another key's entry, treated as a miss");
                if let Some(l2) = &self.l2 {
                    l2.tier.out_of_step();
                }
                None
            }
            Err(e) => {
                self.counters.l2_corrupt.add();
                tracing::warn!(cache = %self.cfg.name, key, error = %e, "unreadable L2 entry, treated as a miss");
                None
            }
        }
    }
}
