//! [`KeyedRateLimit`]: one GCRA bucket per key, across 16 shards, with a hard bound on keys.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::builder::KeyedRateLimitBuilder;
use super::shard::{evict_one, Shard};
use crate::clock::Clock;
use crate::rate::error::limited;
use crate::rate::{Gcra, RateLimited};

/// One GCRA bucket per key (tenant, route, client) with a hard bound on remembered keys.
///
/// The bound is on all keys together (one counter across the 16 shards): no key is forgotten
/// while fewer than `max_keys` are remembered. A new key that finds `max_keys` remembered
/// makes room by looking at the 8 longest-unexamined keys of its shard (of another shard if
/// its own is empty), a constant amount of work under one shard's lock: the first whose
/// bucket is full again is forgotten (that loses nothing: a fresh bucket is the same state);
/// if none is, the one closest to a full bucket is evicted, and the others go to the back of
/// the line. An evicted key restarts with a full burst, which is the price of bounded memory
/// under key churn.
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
    pub(super) inner: Arc<Inner<K>>,
}

impl<K> Clone for KeyedRateLimit<K> {
    fn clone(&self) -> Self {
        Self { inner: Arc::clone(&self.inner) }
    }
}

#[derive(Debug)]
pub(super) struct Inner<K> {
    pub(super) gcra: Gcra,
    pub(super) max_keys: usize,
    /// Keys remembered in all shards, at most `max_keys`: a new key reserves its place here.
    pub(super) keys: AtomicUsize,
    pub(super) hasher: RandomState,
    pub(super) shards: Box<[Mutex<Shard<K>>]>,
    pub(super) clock: Arc<dyn Clock>,
}

impl KeyedRateLimit<String> {
    /// A builder for `rate` requests per second per key with a burst of `burst`.
    pub fn builder(rate: f64, burst: u64) -> KeyedRateLimitBuilder {
        KeyedRateLimitBuilder { rate, burst, max_keys: 100_000, clock: None }
    }
}

impl<K: Hash + Eq + Clone> KeyedRateLimit<K> {
    /// Consumes one cell of `key`'s bucket. The key is copied (twice: for the map and the
    /// eviction order) only the first time it is seen.
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
        let i = self.shard_index(key);
        // Whether this call holds a place in the key count (taken, or handed over by an
        // eviction in another shard).
        let mut reserved = false;
        for _ in 0..8 {
            let mut shard = self.inner.shards[i].lock();
            if let Some(tat) = shard.tats.get_mut(key) {
                if reserved {
                    // Another call remembered the key meanwhile: the place is not needed.
                    self.inner.keys.fetch_sub(1, Ordering::AcqRel);
                }
                *tat = self.inner.gcra.decide(Some(*tat), now).map_err(limited)?;
                return Ok(());
            }
            let tat = match self.inner.gcra.decide(None, now) {
                Ok(t) => t,
                Err(e) => {
                    if reserved {
                        self.inner.keys.fetch_sub(1, Ordering::AcqRel);
                    }
                    return Err(limited(e));
                }
            };
            if !reserved {
                reserved = self
                    .inner
                    .keys
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.inner.max_keys).then_some(n + 1))
                    .is_ok();
            }
            if !reserved {
                if shard.tats.is_empty() {
                    // Every remembered key is in other shards: one of them gives its place to
                    // this key (one lock at a time, so no lock order to keep).
                    drop(shard);
                    reserved = self.evict_elsewhere(i, now);
                    continue;
                }
                // Full: the new key takes the place of one of this shard's.
                evict_one(&mut shard, now, &self.inner.gcra);
            }
            let key = key.to_owned();
            shard.order.push_back(key.clone());
            shard.tats.insert(key, tat);
            return Ok(());
        }
        // Only under extreme churn (every try found the other shards emptied meanwhile): admit
        // without remembering the key, as a forgotten key would be.
        if reserved {
            self.inner.keys.fetch_sub(1, Ordering::AcqRel);
        }
        Ok(())
    }

    /// Forgets one key of the first non-empty shard after `from` and keeps its place in the
    /// count for the caller; false when every other shard is empty.
    #[cold]
    fn evict_elsewhere(&self, from: usize, now: u64) -> bool {
        let n = self.inner.shards.len();
        for j in (1..n).map(|d| (from + d) % n) {
            let mut shard = self.inner.shards[j].lock();
            if !shard.tats.is_empty() {
                evict_one(&mut shard, now, &self.inner.gcra);
                return true;
            }
        }
        false
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
        let tat = self.shard(key).lock().tats.get(key).copied();
        self.inner.gcra.decide(tat, now).map(|_| ()).map_err(limited)
    }

    /// Keys remembered now (never above `max_keys`).
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.keys.load(Ordering::Acquire)
    }

    /// True when no key is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every key whose bucket is full again (no effect on decisions). Scans every key,
    /// one shard at a time: for a periodic cleanup task, not the request path (which keeps
    /// memory bounded by itself).
    pub fn retain_recent(&self) {
        let now = self.inner.clock.now_nanos();
        for s in self.inner.shards.iter() {
            let mut guard = s.lock();
            let shard = &mut *guard;
            let before = shard.tats.len();
            shard.tats.retain(|_, tat| !self.inner.gcra.is_fresh(*tat, now));
            self.inner.keys.fetch_sub(before - shard.tats.len(), Ordering::AcqRel);
            let tats = &shard.tats;
            shard.order.retain(|k| tats.contains_key(k));
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> &Mutex<Shard<K>> {
        &self.inner.shards[self.shard_index(key)]
    }

    fn shard_index<Q: Hash + ?Sized>(&self, key: &Q) -> usize {
        (self.inner.hasher.hash_one(key) as usize) % self.inner.shards.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_count_matches_the_shards_and_never_passes_max_keys() {
        let clock = Arc::new(crate::clock::ManualClock::default());
        for max_keys in [1, 2, 5, 16, 33] {
            let l: KeyedRateLimit<u64> =
                KeyedRateLimit::builder(1.0, 1).max_keys(max_keys).clock(clock.clone()).build().unwrap();
            for k in 0..(max_keys as u64 * 20) {
                l.check(&k).unwrap();
                let in_shards: usize = l.inner.shards.iter().map(|s| s.lock().tats.len()).sum();
                assert_eq!(in_shards, l.len());
                assert_eq!(l.len(), (k as usize + 1).min(max_keys));
            }
            clock.advance(std::time::Duration::from_secs(2));
            l.retain_recent();
            assert_eq!(l.len(), 0);
        }
    }
}
