//! Warming: persist the hottest keys in L2, preload them into a new instance's L1.

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::StreamExt;

use super::handle::{Inner, TieredCache};
use super::lookup::L2Look;
use crate::error::CacheError;
use crate::l2::Guarded;

const HOT_META: &str = "hot";

impl<V> TieredCache<V>
where
    V: Clone + Send + Sync + 'static,
{
    /// The hottest keys this instance has seen, hottest first (at most `hot_keys`).
    #[must_use]
    pub fn hot_keys(&self) -> Vec<String> {
        self.inner.hot.top(self.inner.cfg.hot_keys)
    }

    /// Stores this instance's hot-key list in L2, merged with the list already there, for
    /// [`warm`](Self::warm). Returns how many keys were stored (0 without L2).
    pub async fn persist_hot_keys(&self) -> usize {
        let Some(l2) = &self.inner.l2 else { return 0 };
        let mut keys = self.hot_keys();
        if let Guarded::Done(Some(old)) = l2.call("get_meta", |t| t.get_meta(HOT_META)).await {
            if let Ok(old) = postcard::from_bytes::<Vec<String>>(&old) {
                for k in old {
                    if keys.len() >= self.inner.cfg.hot_keys {
                        break;
                    }
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                }
            }
        }
        let Ok(bytes) = postcard::to_allocvec(&keys) else { return 0 };
        match l2.call("set_meta", |t| t.set_meta(HOT_META, bytes.into())).await {
            Guarded::Done(()) => keys.len(),
            _ => 0,
        }
    }

    /// Preloads the persisted hot keys into L1: from L2 when there, else through the loader
    /// (when one is configured). Returns how many keys are now in L1.
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for a warm that must not fail silently.
    pub async fn warm(&self) -> Result<usize, CacheError> {
        let Some(l2) = &self.inner.l2 else { return Ok(0) };
        let keys = match l2.call("get_meta", |t| t.get_meta(HOT_META)).await {
            Guarded::Done(Some(b)) => postcard::from_bytes::<Vec<String>>(&b).unwrap_or_default(),
            _ => return Ok(0),
        };
        let warmed = futures::stream::iter(keys)
            .map(|key| async move {
                if self.check_key(&key).is_err() {
                    return false;
                }
                let generation = self.inner.gens.of(&key);
                match self.inner.look_l2(&key).await {
                    L2Look::Fresh(e) | L2Look::Stale(e) => {
                        // Not if an invalidation landed since the read (as a read's promotion).
                        self.inner.promote(&key, e, generation).await;
                        true
                    }
                    L2Look::Miss | L2Look::Unavailable if self.inner.loader.is_some() => {
                        matches!(self.get_or_load(&key).await, Ok(Some(_)))
                    }
                    _ => false,
                }
            })
            .buffer_unordered(16)
            .filter(|ok| futures::future::ready(*ok))
            .count()
            .await;
        Ok(warmed)
    }
}

/// The background task behind `Config::persist_hot_keys_every`: stores the hot-key list every
/// `every` until the cache is dropped. Holds no strong reference between ticks.
pub(crate) async fn persist_periodically<V: Clone + Send + Sync + 'static>(inner: Weak<Inner<V>>, every: Duration) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let stored = TieredCache { inner: Arc::clone(&inner) }.persist_hot_keys().await;
        tracing::debug!(cache = %inner.cfg.name, stored, "hot-key list persisted");
    }
}
