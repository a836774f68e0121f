use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Arc;

use parking_lot::Mutex;

use super::direct::limited;
use super::{Gcra, RateConfigError, RateLimited};
use crate::clock::{Clock, TokioClock};

const MAX_KEYS: usize = 100_000_000;
const SHARDS: usize = 16;

/// One GCRA bucket per key (tenant, route, client) with a hard bound on remembered keys.
///
/// Keys whose bucket is full again are forgotten first (that loses nothing: a fresh bucket is
/// the same state). When a shard is still full, the keys closest to a full bucket are evicted,
/// an eighth of the shard at a time; an evicted key restarts with a full burst, which is the
/// price of bounded memory under key churn.
///
/// # Examples
///
/// ```
/// use perfstack_admission::rate::KeyedRateLimit;
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let limit: KeyedRateLimit = KeyedRateLimit::builder(10.0, 1).max_keys(10_000).build()?;
/// assert!(limit.check("tenant-a").is_ok());
/// assert!(limit.check("tenant-a").is_err());
/// assert!(limit.check("tenant-b").is_ok()); // its own bucket
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct KeyedRateLimit<K = String> {
    inner: Arc<Inner<K>>,
}

impl<K> Clone for KeyedRateLimit<K> {
    fn clone(&self) -> Self {
        Self { inner: Arc::clone(&self.inner) }
    }
}

#[derive(Debug)]
struct Inner<K> {
    gcra: Gcra,
    shard_cap: usize,
    hasher: RandomState,
    shards: Box<[Mutex<HashMap<K, u64>>]>,
    clock: Arc<dyn Clock>,
}

/// Builds a [`KeyedRateLimit`]; every setting is checked in [`build`](Self::build).
#[derive(Debug)]
#[must_use]
pub struct KeyedRateLimitBuilder {
    rate: f64,
    burst: u64,
    max_keys: usize,
    clock: Option<Arc<dyn Clock>>,
}

impl KeyedRateLimitBuilder {
    /// Most keys remembered at once (default 100,000).
    pub fn max_keys(mut self, n: usize) -> Self {
        self.max_keys = n;
        self
    }

    /// The clock (default [`TokioClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Checks the settings and builds the limiter.
    ///
    /// # Errors
    ///
    /// A bad rate or burst ([`Gcra::per_second`]) or `max_keys` of 0 or above 10⁸.
    pub fn build<K: Hash + Eq>(self) -> Result<KeyedRateLimit<K>, RateConfigError> {
        let gcra = Gcra::per_second(self.rate, self.burst)?;
        if self.max_keys == 0 || self.max_keys > MAX_KEYS {
            return Err(RateConfigError::MaxKeys { got: self.max_keys, max: MAX_KEYS });
        }
        let shards = SHARDS.min(self.max_keys);
        let shard_cap = self.max_keys.div_ceil(shards);
        Ok(KeyedRateLimit {
            inner: Arc::new(Inner {
                gcra,
                shard_cap,
                hasher: RandomState::new(),
                shards: (0..shards).map(|_| Mutex::new(HashMap::new())).collect(),
                clock: self.clock.unwrap_or_else(|| Arc::new(TokioClock::new())),
            }),
        })
    }
}

impl KeyedRateLimit<String> {
    /// A builder for `rate` requests per second per key with a burst of `burst`.
    pub fn builder(rate: f64, burst: u64) -> KeyedRateLimitBuilder {
        KeyedRateLimitBuilder { rate, burst, max_keys: 100_000, clock: None }
    }
}

impl<K: Hash + Eq> KeyedRateLimit<K> {
    /// Consumes one cell of `key`'s bucket. The key is copied only the first time it is seen.
    ///
    /// # Errors
    ///
    /// [`RateLimited`] when the key's bucket is empty.
    pub fn check<Q>(&self, key: &Q) -> Result<(), RateLimited>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let now = self.inner.clock.now_nanos();
        let mut shard = self.shard(key).lock();
        if let Some(tat) = shard.get_mut(key) {
            *tat = self.inner.gcra.decide(Some(*tat), now).map_err(limited)?;
            return Ok(());
        }
        let tat = self.inner.gcra.decide(None, now).map_err(limited)?;
        if shard.len() >= self.inner.shard_cap {
            self.evict(&mut shard, now);
        }
        shard.insert(key.to_owned(), tat);
        Ok(())
    }

    /// Whether [`check`](Self::check) would succeed for `key`, without consuming.
    ///
    /// # Errors
    ///
    /// [`RateLimited`] when the key's bucket is empty.
    pub fn peek<Q>(&self, key: &Q) -> Result<(), RateLimited>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let now = self.inner.clock.now_nanos();
        let tat = self.shard(key).lock().get(key).copied();
        self.inner.gcra.decide(tat, now).map(|_| ()).map_err(limited)
    }

    /// Keys remembered now (never above `max_keys`).
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// True when no key is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every key whose bucket is full again (no effect on decisions).
    pub fn retain_recent(&self) {
        let now = self.inner.clock.now_nanos();
        for s in self.inner.shards.iter() {
            s.lock().retain(|_, tat| !self.inner.gcra.is_fresh(*tat, now));
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> &Mutex<HashMap<K, u64>> {
        let i = (self.inner.hasher.hash_one(key) as usize) % self.inner.shards.len();
        &self.inner.shards[i]
    }

    fn evict(&self, shard: &mut HashMap<K, u64>, now: u64) {
        shard.retain(|_, tat| !self.inner.gcra.is_fresh(*tat, now));
        if shard.len() < self.inner.shard_cap {
            return;
        }
        // Still full of live keys: drop the eighth closest to a full bucket (smallest TAT).
        let mut tats: Vec<u64> = shard.values().copied().collect();
        let cut = (tats.len() / 8).max(1);
        let (_, threshold, _) = tats.select_nth_unstable(cut - 1);
        let threshold = *threshold;
        let mut budget = cut;
        shard.retain(|_, tat| {
            if budget > 0 && *tat <= threshold {
                budget -= 1;
                false
            } else {
                true
            }
        });
        tracing::debug!(evicted = cut, "keyed rate limit shard full; evicted the least-indebted keys");
    }
}
