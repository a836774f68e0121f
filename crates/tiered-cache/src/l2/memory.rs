//! An in-process [`Tier`]: the L2 for tests, examples without Redis, and single-process
//! services that want the loader protections without a network hop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use tokio::time::Instant;

use super::{EventSink, Tier, TierEvent, WriteToken};
use crate::error::TierError;

#[derive(Debug, Default)]
struct State {
    values: HashMap<String, (Bytes, Instant)>,
    leases: HashMap<String, (String, Instant)>,
    meta: HashMap<String, Bytes>,
    versions: HashMap<String, u64>,
    prefix_epoch: u64,
    sinks: Vec<(u64, EventSink)>,
}

impl State {
    fn write_token(&self, key: &str) -> WriteToken {
        WriteToken { key_version: self.versions.get(key).copied().unwrap_or(0), prefix_epoch: self.prefix_epoch }
    }
}

/// Shared in-memory storage; each cache instance gets its own [`MemoryTier`] view of it with
/// [`MemoryStore::tier`], and instances invalidate each other's L1 like they would through
/// Redis. Uses tokio time, so paused-time tests can drive it.
///
/// # Examples
///
/// ```
/// use perfstack_tiered_cache::{MemoryStore, TieredCache};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = MemoryStore::new();
/// let a = TieredCache::<u32>::builder("t").tier(store.tier()).build().await?;
/// let b = TieredCache::<u32>::builder("t").tier(store.tier()).build().await?;
/// a.set("k", 7).await?;
/// assert_eq!(b.get("k").await?, Some(7)); // from the shared L2
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    next_id: Arc<AtomicU64>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A new instance's view of the store.
    #[must_use]
    pub fn tier(&self) -> Arc<MemoryTier> {
        Arc::new(MemoryTier { store: self.clone(), id: self.next_id.fetch_add(1, Ordering::Relaxed) })
    }

    /// Drops everything and tells every instance to flush L1 (like Redis `FLUSHALL`).
    pub fn flush_all(&self) {
        let mut s = self.state.lock();
        s.values.clear();
        s.leases.clear();
        s.prefix_epoch += 1;
        for (_, sink) in &s.sinks {
            sink.send(TierEvent::FlushAll);
        }
    }
}

/// One instance's view of a [`MemoryStore`].
#[derive(Debug)]
pub struct MemoryTier {
    store: MemoryStore,
    id: u64,
}

impl MemoryTier {
    fn tell_others(&self, s: &State, event: TierEvent) {
        for (id, sink) in &s.sinks {
            if *id != self.id {
                sink.send(event.clone());
            }
        }
    }
}

#[async_trait]
impl Tier for MemoryTier {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, TierError> {
        let s = self.store.state.lock();
        Ok(s.values.get(key).filter(|(_, exp)| Instant::now() < *exp).map(|(b, _)| b.clone()))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), TierError> {
        let mut s = self.store.state.lock();
        *s.versions.entry(key.to_owned()).or_default() += 1;
        s.values.insert(key.to_owned(), (value, crate::ttl::after(Instant::now(), ttl)));
        self.tell_others(&s, TierEvent::Keys(vec![key.to_owned()]));
        Ok(())
    }

    async fn invalidate(&self, keys: &[String]) -> Result<(), TierError> {
        let mut s = self.store.state.lock();
        for k in keys {
            *s.versions.entry(k.clone()).or_default() += 1;
            s.values.remove(k);
            s.leases.remove(k);
        }
        self.tell_others(&s, TierEvent::Keys(keys.to_vec()));
        Ok(())
    }

    async fn invalidate_prefix(&self, prefix: &str) -> Result<u64, TierError> {
        let mut s = self.store.state.lock();
        s.prefix_epoch += 1;
        let before = s.values.len();
        s.values.retain(|k, _| !k.starts_with(prefix));
        s.leases.retain(|k, _| !k.starts_with(prefix));
        let removed = (before - s.values.len()) as u64;
        self.tell_others(&s, TierEvent::Prefix(prefix.to_owned()));
        Ok(removed)
    }

    async fn try_lease(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, TierError> {
        let mut s = self.store.state.lock();
        let now = Instant::now();
        if s.leases.get(key).is_some_and(|(_, exp)| now < *exp) {
            return Ok(false);
        }
        s.leases.insert(key.to_owned(), (token.to_owned(), crate::ttl::after(now, ttl)));
        Ok(true)
    }

    async fn set_with_lease(
        &self,
        key: &str,
        token: &str,
        value: Bytes,
        ttl: Duration,
        versions: WriteToken,
    ) -> Result<bool, TierError> {
        let mut s = self.store.state.lock();
        let now = Instant::now();
        let holds = s.leases.get(key).is_some_and(|(t, exp)| t == token && now < *exp);
        if !holds {
            return Ok(false);
        }
        s.leases.remove(key);
        if s.write_token(key) != versions {
            return Ok(false);
        }
        s.values.insert(key.to_owned(), (value, crate::ttl::after(now, ttl)));
        self.tell_others(&s, TierEvent::Keys(vec![key.to_owned()]));
        Ok(true)
    }

    async fn release_lease(&self, key: &str, token: &str) -> Result<(), TierError> {
        let mut s = self.store.state.lock();
        if s.leases.get(key).is_some_and(|(t, _)| t == token) {
            s.leases.remove(key);
            self.tell_others(&s, TierEvent::LeaseReleased(key.to_owned()));
        }
        Ok(())
    }

    async fn write_token(&self, key: &str) -> Result<WriteToken, TierError> {
        Ok(self.store.state.lock().write_token(key))
    }

    async fn set_if_unchanged(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
        token: WriteToken,
    ) -> Result<bool, TierError> {
        let mut s = self.store.state.lock();
        if s.write_token(key) != token {
            return Ok(false);
        }
        s.values.insert(key.to_owned(), (value, crate::ttl::after(Instant::now(), ttl)));
        self.tell_others(&s, TierEvent::Keys(vec![key.to_owned()]));
        Ok(true)
    }

    async fn get_meta(&self, name: &str) -> Result<Option<Bytes>, TierError> {
        Ok(self.store.state.lock().meta.get(name).cloned())
    }

    async fn set_meta(&self, name: &str, value: Bytes) -> Result<(), TierError> {
        self.store.state.lock().meta.insert(name.to_owned(), value);
        Ok(())
    }

    fn attach(&self, sink: EventSink) {
        self.store.state.lock().sinks.push((self.id, sink));
    }
}
