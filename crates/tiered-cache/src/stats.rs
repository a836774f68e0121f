//! Counters: atomics for the [`CacheStats`] snapshot, mirrored to the `metrics` facade.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use metrics::{counter, gauge, Counter, Gauge};
use serde::Serialize;

/// One counter, kept as an atomic (for `stats()`) and as a resolved `metrics` handle.
#[derive(Debug)]
pub(crate) struct Tally {
    n: AtomicU64,
    metric: Counter,
}

impl Tally {
    fn new(metric: Counter) -> Self {
        Tally { n: AtomicU64::new(0), metric }
    }
    #[inline]
    pub(crate) fn add(&self) {
        self.n.fetch_add(1, Ordering::Relaxed);
        self.metric.increment(1);
    }
    #[inline]
    pub(crate) fn add_n(&self, n: u64) {
        self.n.fetch_add(n, Ordering::Relaxed);
        self.metric.increment(n);
    }
    pub(crate) fn get(&self) -> u64 {
        self.n.load(Ordering::Relaxed)
    }
}

/// All counters of one cache.
#[derive(Debug)]
pub(crate) struct Counters {
    pub(crate) l1_hit: Tally,
    pub(crate) l1_miss: Tally,
    pub(crate) l1_unverified: Tally,
    pub(crate) l2_hit: Tally,
    pub(crate) l2_miss: Tally,
    pub(crate) negative_hit: Tally,
    pub(crate) stale_served: Tally,
    pub(crate) load_ok: Tally,
    pub(crate) load_not_found: Tally,
    pub(crate) load_error: Tally,
    pub(crate) load_timeout: Tally,
    pub(crate) load_voided: Tally,
    pub(crate) refresh_ok: Tally,
    pub(crate) refresh_error: Tally,
    pub(crate) evict_size: Tally,
    pub(crate) evict_expired: Tally,
    pub(crate) evict_explicit: Tally,
    pub(crate) l2_write: Tally,
    pub(crate) l2_error: Tally,
    pub(crate) l2_skipped: Tally,
    pub(crate) l2_corrupt: Tally,
    pub(crate) invalidations_received: Tally,
    pub(crate) l1_flush: Tally,
    pub(crate) lease_acquired: Tally,
    pub(crate) lease_waited: Tally,
    pub(crate) lease_wait_timeout: Tally,
    pub(crate) pending_confirmed: Tally,
    pub(crate) in_flight: AtomicI64,
    in_flight_gauge: Gauge,
    breaker_gauge: Gauge,
    pub(crate) pending_gauge: Gauge,
}

impl Counters {
    pub(crate) fn new(name: &str) -> Self {
        let c = name.to_owned();
        let req = |tier: &'static str, outcome: &'static str| {
            Tally::new(
                counter!("perfstack_tiered_cache_requests_total", "name" => c.clone(), "tier" => tier, "outcome" => outcome),
            )
        };
        let load = |outcome: &'static str| {
            Tally::new(counter!("perfstack_tiered_cache_loads_total", "name" => c.clone(), "outcome" => outcome))
        };
        let refresh = |outcome: &'static str| {
            Tally::new(counter!("perfstack_tiered_cache_refreshes_total", "name" => c.clone(), "outcome" => outcome))
        };
        let evict = |cause: &'static str| {
            Tally::new(counter!("perfstack_tiered_cache_evictions_total", "name" => c.clone(), "cause" => cause))
        };
        let l2 = |kind: &'static str| {
            Tally::new(counter!("perfstack_tiered_cache_l2_errors_total", "name" => c.clone(), "kind" => kind))
        };
        let lease = |outcome: &'static str| {
            Tally::new(counter!("perfstack_tiered_cache_leases_total", "name" => c.clone(), "outcome" => outcome))
        };
        let breaker_gauge = gauge!("perfstack_tiered_cache_l2_breaker_state", "name" => c.clone());
        breaker_gauge.set(0.0);
        Counters {
            l1_hit: req("l1", "hit"),
            l1_miss: req("l1", "miss"),
            l1_unverified: req("l1", "unverified"),
            l2_hit: req("l2", "hit"),
            l2_miss: req("l2", "miss"),
            negative_hit: req("any", "negative"),
            stale_served: req("any", "stale"),
            load_ok: load("ok"),
            load_not_found: load("not_found"),
            load_error: load("error"),
            load_timeout: load("timeout"),
            load_voided: load("voided"),
            refresh_ok: refresh("ok"),
            refresh_error: refresh("error"),
            evict_size: evict("size"),
            evict_expired: evict("expired"),
            evict_explicit: evict("explicit"),
            l2_write: Tally::new(counter!("perfstack_tiered_cache_l2_writes_total", "name" => c.clone())),
            l2_error: l2("backend"),
            l2_skipped: l2("breaker_open"),
            l2_corrupt: l2("corrupt"),
            invalidations_received: Tally::new(
                counter!("perfstack_tiered_cache_invalidations_received_total", "name" => c.clone()),
            ),
            l1_flush: Tally::new(counter!("perfstack_tiered_cache_l1_flushes_total", "name" => c.clone())),
            lease_acquired: lease("acquired"),
            lease_waited: lease("waited"),
            lease_wait_timeout: lease("wait_timeout"),
            pending_confirmed: Tally::new(
                counter!("perfstack_tiered_cache_pending_confirmed_total", "name" => c.clone()),
            ),
            in_flight: AtomicI64::new(0),
            in_flight_gauge: gauge!("perfstack_tiered_cache_inflight_load_tasks", "name" => c.clone()),
            breaker_gauge,
            pending_gauge: gauge!("perfstack_tiered_cache_pending_invalidation_keys", "name" => c.clone()),
        }
    }

    pub(crate) fn flight_started(&self) {
        let n = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.in_flight_gauge.set(n as f64);
    }

    pub(crate) fn flight_ended(&self) {
        let n = self.in_flight.fetch_sub(1, Ordering::Relaxed) - 1;
        self.in_flight_gauge.set(n as f64);
    }

    pub(crate) fn breaker_open(&self, open: bool) {
        self.breaker_gauge.set(if open { 1.0 } else { 0.0 });
    }
}

/// A point-in-time snapshot of a cache's counters, from [`crate::TieredCache::stats`].
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Reads answered from L1 with a fresh value.
    pub l1_hits: u64,
    /// Reads that did not find a usable L1 entry.
    pub l1_misses: u64,
    /// L1 entries not served because the invalidation channel was not proven current
    /// (see `Config::coherence_bound`); counted in `l1_misses` too.
    pub l1_unverified: u64,
    /// Reads answered from L2 (then promoted to L1).
    pub l2_hits: u64,
    /// Reads that found nothing usable in L2.
    pub l2_misses: u64,
    /// Reads answered by a cached "not found".
    pub negative_hits: u64,
    /// Reads answered with a stale value (from L1 or L2) while a refresh ran.
    pub stale_served: u64,
    /// Loader calls that returned a value.
    pub loads: u64,
    /// Loader calls that returned "not found".
    pub loads_not_found: u64,
    /// Loader calls that failed (timeouts included).
    pub load_errors: u64,
    /// Loads that ran longer than `load_timeout`.
    pub load_timeouts: u64,
    /// Loads whose result was not stored because an invalidation arrived meanwhile.
    pub loads_voided: u64,
    /// Background refreshes that succeeded.
    pub refreshes: u64,
    /// Background refreshes that failed (the stale value was kept).
    pub refresh_errors: u64,
    /// L1 evictions for lack of space.
    pub evictions_size: u64,
    /// L1 entries a read found past their hard TTL (counted once per entry; an expired entry
    /// replaced, removed or evicted without being read is not counted).
    pub evictions_expired: u64,
    /// L1 removals by invalidation.
    pub evictions_explicit: u64,
    /// Values written to L2.
    pub l2_writes: u64,
    /// L2 calls that failed or timed out.
    pub l2_errors: u64,
    /// L2 calls skipped because the breaker was open.
    pub l2_skipped: u64,
    /// L2 entries that were corrupt, foreign or written with another codec (counted as misses).
    pub l2_corrupt: u64,
    /// Invalidation messages received from other instances or from Redis.
    pub invalidations_received: u64,
    /// Whole-L1 flushes (reconnect, FLUSHALL, breaker closing).
    pub l1_flushes: u64,
    /// Leases this instance acquired.
    pub leases_acquired: u64,
    /// Times this instance waited for another instance's lease.
    pub lease_waits: u64,
    /// Lease waits that timed out and fell back to loading.
    pub lease_wait_timeouts: u64,
    /// Loads running right now.
    pub in_flight_loads: u64,
    /// Writes and invalidations applied here that L2 has not confirmed yet
    /// ([`crate::Propagation::Pending`]); retried in the background.
    pub pending_invalidations: u64,
    /// Pending invalidations that L2 later confirmed.
    pub pending_confirmed: u64,
    /// Whether this instance's L1 is proven current right now (always `true` without
    /// heartbeats, i.e. without Redis).
    pub l1_verified: bool,
    /// Whether the L2 breaker is open (L2 bypassed).
    pub breaker_open: bool,
    /// Entries in L1 (approximate).
    pub l1_entries: u64,
    /// Weighted size of L1 in bytes (approximate).
    pub l1_bytes: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> CacheStats {
        CacheStats {
            l1_hits: self.l1_hit.get(),
            l1_misses: self.l1_miss.get(),
            l1_unverified: self.l1_unverified.get(),
            l2_hits: self.l2_hit.get(),
            l2_misses: self.l2_miss.get(),
            negative_hits: self.negative_hit.get(),
            stale_served: self.stale_served.get(),
            loads: self.load_ok.get(),
            loads_not_found: self.load_not_found.get(),
            load_errors: self.load_error.get(),
            load_timeouts: self.load_timeout.get(),
            loads_voided: self.load_voided.get(),
            refreshes: self.refresh_ok.get(),
            refresh_errors: self.refresh_error.get(),
            evictions_size: self.evict_size.get(),
            evictions_expired: self.evict_expired.get(),
            evictions_explicit: self.evict_explicit.get(),
            l2_writes: self.l2_write.get(),
            l2_errors: self.l2_error.get(),
            l2_skipped: self.l2_skipped.get(),
            l2_corrupt: self.l2_corrupt.get(),
            invalidations_received: self.invalidations_received.get(),
            l1_flushes: self.l1_flush.get(),
            leases_acquired: self.lease_acquired.get(),
            lease_waits: self.lease_waited.get(),
            lease_wait_timeouts: self.lease_wait_timeout.get(),
            in_flight_loads: self.in_flight.load(Ordering::Relaxed).max(0) as u64,
            pending_invalidations: 0,
            pending_confirmed: self.pending_confirmed.get(),
            l1_verified: true,
            breaker_open: false,
            l1_entries: 0,
            l1_bytes: 0,
        }
    }
}
