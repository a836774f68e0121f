//! [`TieredCacheBuilder`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{de::DeserializeOwned, Serialize};

use super::flight::Flights;
use super::handle::{Inner, TieredCache};
use super::pending::Pending;
use crate::codec::{Codec, PostcardCodec};
use crate::config::{Config, LeaseConfig};
use crate::error::ConfigError;
use crate::l1::{HotKeys, Trust};
use crate::l2::{Deadlines, EventSink, L2Breaker, L2Guard, Tier};
use crate::loader::Loader;
use crate::stats::Counters;
use crate::ttl::{Clock, MAX_TTL};

/// Heartbeats go every quarter of the coherence bound: below this they would flood Redis.
const MIN_COHERENCE_BOUND: Duration = Duration::from_millis(20);

enum TierChoice {
    Custom(Arc<dyn Tier>),
    #[cfg(feature = "redis")]
    Redis(fred::clients::Client),
}

/// Builds a [`TieredCache`]; every setter takes and returns `self`.
#[must_use]
pub struct TieredCacheBuilder<V> {
    cfg: Config,
    codec: Arc<dyn Codec<V>>,
    loader: Option<Arc<dyn Loader<V>>>,
    tier: Option<TierChoice>,
}

impl<V> std::fmt::Debug for TieredCacheBuilder<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TieredCacheBuilder").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

impl<V> TieredCacheBuilder<V>
where
    V: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    pub(crate) fn new(name: &str) -> Self {
        TieredCacheBuilder { cfg: Config::named(name), codec: Arc::new(PostcardCodec), loader: None, tier: None }
    }
}

impl<V> TieredCacheBuilder<V>
where
    V: Clone + Send + Sync + 'static,
{
    /// Replaces every setting at once (the name stays the builder's).
    pub fn config(mut self, cfg: Config) -> Self {
        self.cfg = cfg;
        self
    }
    /// The loader used by `get_or_load`, refreshes and `warm`.
    pub fn loader(mut self, loader: impl Loader<V>) -> Self {
        self.loader = Some(Arc::new(loader));
        self
    }
    /// The value codec (default [`PostcardCodec`]).
    pub fn codec(mut self, codec: impl Codec<V>) -> Self {
        self.codec = Arc::new(codec);
        self
    }
    /// Redis as L2 and invalidation channel. The cache opens two connections of its own with
    /// this client's settings (URL, reconnect policy, timeouts): one for commands, with client
    /// tracking on the cache's prefix, and one for invalidations. The client itself is left
    /// untouched, so one client can configure many caches.
    #[cfg(feature = "redis")]
    pub fn redis(mut self, client: fred::clients::Client) -> Self {
        self.tier = Some(TierChoice::Redis(client));
        self
    }
    /// Any [`Tier`] as L2 (for example [`crate::MemoryTier`]).
    pub fn tier(mut self, tier: Arc<dyn Tier>) -> Self {
        self.tier = Some(TierChoice::Custom(tier));
        self
    }
    /// Hard TTL (default 5 min). Also lowers the soft TTL to it when the soft TTL was longer.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.cfg.ttl = ttl;
        if self.cfg.soft_ttl > ttl {
            self.cfg.soft_ttl = ttl;
        }
        self
    }
    /// Soft TTL: after it reads get the stale value while one refresh runs.
    pub fn soft_ttl(mut self, soft: Duration) -> Self {
        self.cfg.soft_ttl = soft;
        self
    }
    /// TTL of a cached "not found" (default 30 s).
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.cfg.negative_ttl = ttl;
        self
    }
    /// After a failed refresh, how long stale reads of that key wait before starting
    /// another (default 1 s).
    pub fn refresh_retry_after(mut self, backoff: Duration) -> Self {
        self.cfg.refresh_retry_after = backoff;
        self
    }
    /// Random TTL shortening fraction in `[0, 1]` (default 0.1).
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.cfg.jitter = fraction;
        self
    }
    /// L1 capacity in bytes (default 64 MiB), counted as key length + the entry's bytes in L2
    /// (38-byte header + encoded value) + 96 per entry: encoded sizes, not the memory decoded
    /// values use, which can be several times more for values of many small parts. See
    /// [`Config::l1_max_bytes`] for what that means per type and how to budget.
    pub fn l1_max_bytes(mut self, bytes: u64) -> Self {
        self.cfg.l1_max_bytes = bytes;
        self
    }
    /// L1 TTL of values that could not be written to L2 (default 1 s).
    pub fn degraded_l1_ttl(mut self, ttl: Duration) -> Self {
        self.cfg.degraded_l1_ttl = ttl;
        self
    }
    /// Key and encoded value size limits (defaults 512 B and 1 MiB).
    pub fn limits(mut self, max_key_bytes: usize, max_value_bytes: usize) -> Self {
        self.cfg.max_key_bytes = max_key_bytes;
        self.cfg.max_value_bytes = max_value_bytes;
        self
    }
    /// Timeout of one L2 call (default 200 ms).
    pub fn l2_timeout(mut self, timeout: Duration) -> Self {
        self.cfg.l2_timeout = timeout;
        self
    }
    /// Breaker: failed calls needed before it may open (it opens at a 50 % failure rate over
    /// the last 10 L2 calls), and time open before one probe (defaults 3, 250 ms).
    pub fn breaker(mut self, failures: u32, open_for: Duration) -> Self {
        self.cfg.breaker_failures = failures;
        self.cfg.breaker_open_for = open_for;
        self
    }
    /// The longest a load may run before its waiters get [`crate::CacheError::LoadTimeout`]
    /// (default 10 s).
    pub fn load_timeout(mut self, timeout: Duration) -> Self {
        self.cfg.load_timeout = timeout;
        self
    }
    /// With Redis: how far behind Redis this instance's L1 may be (default 250 ms; see
    /// [`Config::coherence_bound`]). Heartbeats go through the invalidation channel every
    /// quarter of it.
    pub fn coherence_bound(mut self, bound: Duration) -> Self {
        self.cfg.coherence_bound = bound;
        self
    }
    /// Turns on lease mode across instances.
    pub fn lease(mut self, lease: LeaseConfig) -> Self {
        self.cfg.lease = Some(lease);
        self
    }
    /// The Redis namespace (default `pstc:{name}:`).
    pub fn namespace(mut self, ns: &str) -> Self {
        self.cfg.namespace = ns.to_owned();
        self
    }
    /// How many hot keys `persist_hot_keys` stores (default 1,000).
    pub fn hot_keys(mut self, n: usize) -> Self {
        self.cfg.hot_keys = n;
        self
    }
    /// Counts L1 evictions by size (`evictions_size`, `perfstack_tiered_cache_evictions_total{cause="size"}`).
    /// Off by default, as in Caffeine; it costs one atomic add per eviction. Explicit and
    /// expiry evictions are always counted.
    pub fn l1_eviction_stats(mut self, on: bool) -> Self {
        self.cfg.l1_eviction_stats = on;
        self
    }
    /// How often the hot-key list is stored in L2 in the background (default every 60 s;
    /// `None`: only when [`TieredCache::persist_hot_keys`] is called).
    pub fn persist_hot_keys_every(mut self, every: Option<Duration>) -> Self {
        self.cfg.persist_hot_keys_every = every;
        self
    }

    /// Builds the cache; with Redis, sets up the invalidation channel first.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] for out-of-range settings (among them any TTL over 365 days), [`ConfigError::Redis`] when the
    /// invalidation connection cannot be set up.
    pub async fn build(self) -> Result<TieredCache<V>, ConfigError> {
        let cfg = self.cfg;
        if cfg.ttl.is_zero() || cfg.soft_ttl > cfg.ttl {
            return Err(ConfigError::Invalid("need 0 < soft_ttl <= ttl".into()));
        }
        let mut durations = vec![
            ("ttl", cfg.ttl),
            ("soft_ttl", cfg.soft_ttl),
            ("negative_ttl", cfg.negative_ttl),
            ("degraded_l1_ttl", cfg.degraded_l1_ttl),
            ("refresh_retry_after", cfg.refresh_retry_after),
            ("load_timeout", cfg.load_timeout),
            ("coherence_bound", cfg.coherence_bound),
        ];
        if let Some(lease) = cfg.lease {
            durations.extend([("lease ttl", lease.ttl), ("lease wait", lease.wait)]);
        }
        for (what, d) in durations {
            if d > MAX_TTL {
                return Err(ConfigError::Invalid(format!(
                    "{what} is {d:?}; the longest accepted is {} days",
                    MAX_TTL.as_secs() / 86_400
                )));
            }
        }
        if cfg.load_timeout.is_zero() {
            return Err(ConfigError::Invalid("load_timeout must be positive".into()));
        }
        if cfg.coherence_bound < MIN_COHERENCE_BOUND {
            return Err(ConfigError::Invalid(format!(
                "coherence_bound is {:?}; the shortest accepted is {MIN_COHERENCE_BOUND:?} (heartbeats go every quarter of it)",
                cfg.coherence_bound
            )));
        }
        if cfg.l2_timeout.is_zero() || cfg.l2_timeout > MAX_TTL {
            return Err(ConfigError::Invalid("l2_timeout must be within (0, 365 days]".into()));
        }
        if cfg.persist_hot_keys_every.is_some_and(|d| d.is_zero() || d > MAX_TTL) {
            return Err(ConfigError::Invalid("persist_hot_keys_every must be within (0, 365 days]".into()));
        }
        if !(0.0..=1.0).contains(&cfg.jitter) {
            return Err(ConfigError::Invalid("jitter must be within [0, 1]".into()));
        }
        if cfg.max_key_bytes == 0 || cfg.max_value_bytes == 0 {
            return Err(ConfigError::Invalid("size limits must be positive".into()));
        }
        let counters = Arc::new(Counters::new(&cfg.name));
        let (sink, rx) = EventSink::channel(crate::l2::EVENT_QUEUE);
        let mut trust = Trust::always();
        let tier: Option<Arc<dyn Tier>> = match self.tier {
            None => None,
            Some(TierChoice::Custom(t)) => {
                t.attach(sink);
                Some(t)
            }
            #[cfg(feature = "redis")]
            Some(TierChoice::Redis(client)) => {
                let server = fred::interfaces::ClientLike::client_config(&client).server;
                if server.is_clustered() || server.is_sentinel() {
                    // Tracking, its redirect and the heartbeats are per node: not yet.
                    return Err(ConfigError::Invalid(
                        "Redis Cluster and Sentinel clients are not supported yet: give a client of one Redis server"
                            .into(),
                    ));
                }
                let links = crate::l2::redis::Links {
                    command_timeout: cfg.l2_timeout,
                    heartbeat: (cfg.coherence_bound / 4).max(Duration::from_millis(1)),
                };
                let redis = crate::l2::redis::RedisTier::connect(client, &cfg.namespace, sink, links)
                    .await
                    .map_err(|e| ConfigError::Redis(e.to_string()))?;
                trust = Trust::heartbeats(cfg.coherence_bound);
                if let Some(at) = redis.confirmed_at() {
                    trust.caught_up(at);
                }
                Some(Arc::new(redis))
            }
        };
        let mut ticker = None;
        let l2 = match tier {
            None => None,
            Some(tier) => Some(L2Guard {
                tier,
                breaker: L2Breaker::new(&cfg.name, cfg.breaker_failures, cfg.breaker_open_for)
                    .map_err(ConfigError::Invalid)?,
                timeout: cfg.l2_timeout,
                deadlines: {
                    let (d, handle) = Deadlines::start(cfg.l2_timeout);
                    ticker = Some(handle.abort_handle());
                    d
                },
                counters: counters.clone(),
                on_close: std::sync::OnceLock::new(),
            }),
        };
        let codec_id = self.codec.id();
        let inner = Arc::new(Inner {
            l1: crate::l1::build(
                cfg.l1_max_bytes,
                cfg.max_value_bytes,
                cfg.l1_eviction_stats.then(|| counters.clone()),
            ),
            hot: HotKeys::new(cfg.hot_keys),
            cfg,
            l2,
            codec: self.codec,
            codec_id,
            loader: self.loader,
            flights: Flights::new(),
            counters,
            clock: Clock::new(),
            waiters: Mutex::new(HashMap::new()),
            gens: super::generation::Generations::default(),
            tasks: Mutex::new(Vec::new()),
            trust,
            pending: Pending::default(),
        });
        if let Some(l2) = &inner.l2 {
            // The close transition flushes L1 from inside the guard: no call site can miss it.
            let weak = Arc::downgrade(&inner);
            let _ = l2.on_close.set(Box::new(move || {
                if let Some(inner) = weak.upgrade() {
                    inner.flush_l1("breaker closed");
                }
            }));
        }
        let handle = tokio::spawn(super::events::run(Arc::downgrade(&inner), rx));
        inner.tasks.lock().push(handle.abort_handle());
        inner.tasks.lock().extend(ticker);
        if inner.l2.is_some() {
            let added = inner.pending.added.clone();
            let handle = tokio::spawn(super::drain::run(Arc::downgrade(&inner), added));
            inner.tasks.lock().push(handle.abort_handle());
        }
        if let (Some(every), Some(_)) = (inner.cfg.persist_hot_keys_every, &inner.l2) {
            let handle = tokio::spawn(super::warm::persist_periodically(Arc::downgrade(&inner), every));
            inner.tasks.lock().push(handle.abort_handle());
        }
        Ok(TieredCache { inner })
    }
}
