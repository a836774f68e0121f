//! Settings, with their defaults.

use std::time::Duration;

/// Cache settings. Every field has a documented default; the builder sets them.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Name used in metric labels and in the Redis namespace. Default `"default"`.
    pub name: String,
    /// Prefix of every Redis key and channel of this cache. Default `"pstc:{name}:"`.
    pub namespace: String,
    /// L1 capacity in bytes, as L1 weighs its entries: each weighs its key's length, plus its
    /// entry as stored in L2 (the 38-byte header and the codec's encoding of the value; none
    /// for a cached "not found"), plus a fixed 96 bytes for the bookkeeping (the map's slot, the
    /// key's `String`, the entry's `Arc`, its deadlines). Default 64 MiB.
    ///
    /// This bounds encoded bytes, not the memory the decoded values use: a generic `V` has
    /// no size the cache could ask for, while the encoded length is known for free. How the
    /// two compare depends on the type. A `String` or `Vec<u8>` uses about its encoded length
    /// plus 24 bytes plus the allocator's rounding, so the weight is close. Small integers are
    /// postcard varints, smaller encoded than in memory (a `u64` below 128 is 1 byte, not 8),
    /// so structs of many numbers, and collections of many small allocations (a
    /// `Vec<String>`, a map), use several times their weight. Values read through an `Arc<T>`
    /// weigh `T`'s encoding once, but an evicted one is freed only when the last clone a
    /// caller holds is dropped. To budget: measure the ratio of memory to `stats().l1_bytes`
    /// for your values and set this to the memory you can give L1 divided by that ratio (see
    /// "Sizing L1" in `docs/tiered-cache.md`).
    pub l1_max_bytes: u64,
    /// Hard TTL: after it an entry is gone. Default 5 min.
    pub ttl: Duration,
    /// Soft TTL: after it a read serves the stale value and starts one refresh.
    /// Default: equal to `ttl` (no stale-while-revalidate).
    pub soft_ttl: Duration,
    /// TTL of a cached "not found". Default 30 s.
    pub negative_ttl: Duration,
    /// After a failed refresh, stale reads of that key start no other refresh for this long
    /// (the stale value is served meanwhile). Default 1 s.
    pub refresh_retry_after: Duration,
    /// TTLs are shortened by a random fraction up to this. Default 0.1.
    pub jitter: f64,
    /// L1 TTL for values that could not be written to L2 (Redis down). Default 1 s.
    pub degraded_l1_ttl: Duration,
    /// Longest accepted key in bytes. Default 512.
    pub max_key_bytes: usize,
    /// Largest accepted encoded value in bytes. Default 1 MiB.
    pub max_value_bytes: usize,
    /// Timeout of one L2 call, enforced by one ticker per cache rather than a timer per call:
    /// a hung call gives up between `l2_timeout` and `1.25 × l2_timeout`. Default 200 ms.
    pub l2_timeout: Duration,
    /// L2 calls the breaker must see before it may open; it opens at a 50 % failure rate
    /// over the last 10 calls. Default 3.
    pub breaker_failures: u32,
    /// How long the breaker stays open before one probe. Default 250 ms.
    pub breaker_open_for: Duration,
    /// The longest a load may run. Every caller waiting for it then gets
    /// [`crate::CacheError::LoadTimeout`], the loader's future is dropped, and the next caller
    /// starts a new load. Default 10 s.
    pub load_timeout: Duration,
    /// With Redis: how far behind Redis this instance's L1 may be. An instance serves L1
    /// only while it has proof (a heartbeat through its invalidation channel, sent every
    /// quarter of this) that every change made in Redis more than `coherence_bound` ago has
    /// been applied to its L1. Without that proof (Redis down or paused, or this process
    /// stalled) reads go to L2; while L2 is unreachable as well, only L1 entries younger than
    /// `degraded_l1_ttl` are served. So a read on another instance that starts
    /// `coherence_bound` after a write returned sees it. Default 250 ms.
    pub coherence_bound: Duration,
    /// Lease mode across instances (`None`: off). Default off.
    pub lease: Option<LeaseConfig>,
    /// How many hot keys are persisted for [`crate::TieredCache::warm`]. Default 1,000.
    pub hot_keys: usize,
    /// Count L1 evictions by size (one atomic add per eviction). Off by default. Explicit
    /// removals and expiries are counted either way.
    pub l1_eviction_stats: bool,
    /// How often a background task stores the hot-key list in L2
    /// ([`crate::TieredCache::persist_hot_keys`]), so that a new instance's `warm()` finds a
    /// recent list even if this one dies without a clean shutdown. `None`: only when called.
    /// Default 60 s (ignored without L2).
    pub persist_hot_keys_every: Option<Duration>,
}

/// Settings of lease mode.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct LeaseConfig {
    /// How long a lease holds if its holder dies. Default 5 s.
    pub ttl: Duration,
    /// How long an instance that lost the lease waits for the value. Default 1 s.
    pub wait: Duration,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig { ttl: Duration::from_secs(5), wait: Duration::from_secs(1) }
    }
}

impl LeaseConfig {
    /// A lease config with the given lease TTL and wait.
    #[must_use]
    pub fn new(ttl: Duration, wait: Duration) -> Self {
        LeaseConfig { ttl, wait }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::named("default")
    }
}

impl Config {
    /// Defaults for a cache called `name`.
    #[must_use]
    pub fn named(name: &str) -> Self {
        Config {
            name: name.to_owned(),
            namespace: format!("pstc:{name}:"),
            l1_max_bytes: 64 << 20,
            ttl: Duration::from_secs(300),
            soft_ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(30),
            refresh_retry_after: Duration::from_secs(1),
            jitter: 0.1,
            degraded_l1_ttl: Duration::from_secs(1),
            max_key_bytes: 512,
            max_value_bytes: 1 << 20,
            l2_timeout: Duration::from_millis(200),
            breaker_failures: 3,
            breaker_open_for: Duration::from_millis(250),
            load_timeout: Duration::from_secs(10),
            coherence_bound: Duration::from_millis(250),
            lease: None,
            hot_keys: 1_000,
            l1_eviction_stats: false,
            persist_hot_keys_every: Some(Duration::from_secs(60)),
        }
    }
}
