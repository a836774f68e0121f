//! Reads: `get` and `get_or_load`.

use std::sync::Arc;

use super::handle::{Inner, TieredCache};
use super::load::Mode;
use super::lookup::{L1Look, L2Look};
use crate::error::CacheError;

impl<V> TieredCache<V>
where
    V: Clone + Send + Sync + 'static,
{
    /// Reads `key` from L1, then L2 (promoting the value into L1 with its *remaining* L2
    /// lifetime). Never calls the loader; a stale value is served and, when a loader is
    /// configured, one refresh starts. `Ok(None)`: not cached, or cached as "not found".
    ///
    /// # Errors
    ///
    /// Only for bad keys ([`CacheError::EmptyKey`], [`CacheError::KeyTooLong`]); Redis
    /// trouble is never an error.
    ///
    /// # Examples
    ///
    /// ```
    /// use perfstack_tiered_cache::{MemoryStore, TieredCache};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = MemoryStore::new();
    /// let a = TieredCache::<String>::builder("users").tier(store.tier()).build().await?;
    /// let b = TieredCache::<String>::builder("users").tier(store.tier()).build().await?;
    /// assert_eq!(a.get("7").await?, None); // not cached, and `get` never loads
    /// a.set("7", "Ada".to_owned()).await?;
    /// assert_eq!(b.get("7").await?, Some("Ada".to_owned())); // from L2, now in b's L1 too
    /// assert_eq!(b.stats().l2_hits, 1);
    /// # Ok(()) }
    /// ```
    pub async fn get(&self, key: &str) -> Result<Option<V>, CacheError> {
        self.check_key(key)?;
        if let Some(v) = self.inner.answer_from_l1(key).await {
            return Ok(v);
        }
        let generation = self.inner.gens.of(key);
        match self.inner.look_l2(key).await {
            L2Look::Fresh(e) => {
                self.inner.promote(key, e.clone(), generation).await;
                Ok(e.value.clone())
            }
            L2Look::Stale(e) => {
                self.inner.promote(key, e.clone(), generation).await;
                self.inner.counters.stale_served.add();
                self.inner.refresh_in_background(key);
                Ok(e.value.clone())
            }
            L2Look::Miss | L2Look::Unavailable => Ok(None),
        }
    }

    /// Reads `key` like [`get`](Self::get) and, on a miss, loads it with the configured
    /// loader. Concurrent callers for the same key share one detached load (single-flight):
    /// the loader runs once and L2 is written once. A caller that gives up does not cancel
    /// the load. `Ok(None)` means the loader said "not found" (cached for the negative TTL).
    ///
    /// # Errors
    ///
    /// Bad keys, [`CacheError::NoLoader`], [`CacheError::Load`] (the same error for every
    /// waiter), [`CacheError::ValueTooLarge`] when the loaded value exceeds the limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use perfstack_tiered_cache::{loader_fn, BoxError, MemoryStore, TieredCache};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cache = TieredCache::<String>::builder("users")
    ///     .tier(MemoryStore::new().tier())
    ///     .loader(loader_fn(|id: String| async move {
    ///         // Your database; `Ok(None)` is "not found", cached for `negative_ttl`.
    ///         Ok::<_, BoxError>((id != "0").then(|| format!("user {id}")))
    ///     }))
    ///     .build()
    ///     .await?;
    /// let (a, b) = tokio::join!(cache.get_or_load("7"), cache.get_or_load("7"));
    /// assert_eq!((a?, b?), (Some("user 7".to_owned()), Some("user 7".to_owned())));
    /// assert_eq!(cache.stats().loads, 1); // one load for both callers
    /// assert_eq!(cache.get_or_load("0").await?, None);
    /// # Ok(()) }
    /// ```
    pub async fn get_or_load(&self, key: &str) -> Result<Option<V>, CacheError> {
        self.check_key(key)?;
        if let Some(v) = self.inner.answer_from_l1(key).await {
            return Ok(v);
        }
        if self.inner.loader.is_none() {
            return Err(CacheError::NoLoader(self.inner.cfg.name.clone()));
        }
        self.inner.start_or_join(key, Mode::Miss).await
    }
}

impl<V: Clone + Send + Sync + 'static> Inner<V> {
    /// The L1 step of a read: `Some` answers it (fresh, or stale with a refresh started
    /// unless a failed one's backoff holds); `None` is a miss.
    async fn answer_from_l1(self: &Arc<Self>, key: &str) -> Option<Option<V>> {
        match self.look_l1(key).await {
            L1Look::Fresh(v) => Some(v),
            L1Look::Stale(v, refresh) => {
                if refresh {
                    self.refresh_in_background(key);
                }
                Some(v)
            }
            L1Look::Miss => None,
        }
    }
}
