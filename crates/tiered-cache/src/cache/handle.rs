//! [`TieredCache`]: the handle users hold, and the state behind it.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use super::builder::TieredCacheBuilder;
use super::flight::Flights;
use crate::codec::Codec;
use crate::config::Config;
use crate::error::CacheError;
use crate::l1::{HotKeys, L1};
use crate::l2::L2Guard;
use crate::loader::Loader;
use crate::stats::{CacheStats, Counters};
use crate::ttl::Clock;

/// A tiered cache: L1 in process memory (quick_cache, sized in bytes), L2 shared (Redis), L3 the
/// loader. A cheap `Arc` handle: clone it freely.
///
/// `V` is the value type; it is cloned out of L1 on every hit, so wrap large values in an
/// `Arc`.
///
/// # Examples
///
/// ```
/// use perfstack_tiered_cache::{loader_fn, BoxError, TieredCache};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cache = TieredCache::<String>::builder("users")
///     .loader(loader_fn(|id: String| async move { Ok::<_, BoxError>(Some(format!("user {id}"))) }))
///     .build()
///     .await?;
/// assert_eq!(cache.get_or_load("42").await?, Some("user 42".to_owned()));
/// assert_eq!(cache.stats().loads, 1);
/// assert_eq!(cache.get_or_load("42").await?, Some("user 42".to_owned())); // L1 hit
/// assert_eq!(cache.stats().l1_hits, 1);
/// # Ok(()) }
/// ```
pub struct TieredCache<V> {
    pub(crate) inner: Arc<Inner<V>>,
}

impl<V> Clone for TieredCache<V> {
    fn clone(&self) -> Self {
        TieredCache { inner: self.inner.clone() }
    }
}

impl<V> std::fmt::Debug for TieredCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TieredCache")
            .field("name", &self.inner.cfg.name)
            .field("l2", &self.inner.l2.is_some())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner<V> {
    pub(crate) cfg: Config,
    pub(crate) l1: L1<V>,
    pub(crate) l2: Option<L2Guard>,
    pub(crate) codec: Arc<dyn Codec<V>>,
    pub(crate) codec_id: u8,
    pub(crate) loader: Option<Arc<dyn Loader<V>>>,
    pub(crate) flights: Flights<V>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) clock: Clock,
    pub(crate) hot: HotKeys,
    /// Lease losers wait here for the winner's write (woken by the invalidation channel).
    pub(crate) waiters: Mutex<HashMap<String, Arc<Notify>>>,
    /// Bumped by every invalidation applied here, per key: an L2 read that raced one is not
    /// promoted.
    pub(crate) gens: super::generation::Generations,
    pub(crate) tasks: Mutex<Vec<AbortHandle>>,
    /// Whether L1 may be served without asking L2 (heartbeats through the channel).
    pub(crate) trust: crate::l1::Trust,
    /// Writes and invalidations L2 has not confirmed yet.
    pub(crate) pending: super::pending::Pending,
}

impl<V> Drop for Inner<V> {
    fn drop(&mut self) {
        for t in self.tasks.lock().drain(..) {
            t.abort();
        }
    }
}

impl<V> TieredCache<V>
where
    V: Clone + Send + Sync + 'static,
{
    /// A builder for a cache called `name` (used in metric labels and the Redis namespace).
    pub fn builder(name: &str) -> TieredCacheBuilder<V>
    where
        V: serde::Serialize + serde::de::DeserializeOwned,
    {
        TieredCacheBuilder::new(name)
    }

    /// A snapshot of the counters.
    #[must_use]
    pub fn stats(&self) -> CacheStats {
        let mut s = self.inner.counters.snapshot();
        s.breaker_open = self.inner.l2.as_ref().is_some_and(L2Guard::is_open);
        s.l1_entries = self.inner.l1.entry_count();
        s.l1_bytes = self.inner.l1.weighted_size();
        s.pending_invalidations = self.inner.pending.len() as u64;
        s.l1_verified = self.inner.trust.holds(tokio::time::Instant::now());
        s
    }

    /// The settings this cache runs with.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.inner.cfg
    }

    /// Does nothing: L1 applies every insert, removal and eviction at once, so `stats()` is
    /// current without it. Kept so that code written for the moka-based L1 still builds; to be
    /// removed before 1.0.
    pub async fn run_pending_tasks(&self) {}

    pub(crate) fn check_key(&self, key: &str) -> Result<(), CacheError> {
        if key.is_empty() {
            return Err(CacheError::EmptyKey);
        }
        if key.len() > self.inner.cfg.max_key_bytes {
            return Err(CacheError::KeyTooLong { len: key.len(), max: self.inner.cfg.max_key_bytes });
        }
        if key.starts_with(crate::l2::RESERVED_KEY_PREFIX) {
            return Err(CacheError::ReservedKey(crate::l2::RESERVED_KEY_PREFIX));
        }
        Ok(())
    }
}
