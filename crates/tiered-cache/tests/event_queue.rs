//! The invalidation event queue is bounded: a flood of events beyond it becomes one L1 flush
//! (nothing is silently lost, memory does not grow).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use perfstack_tiered_cache::{EventSink, MemoryStore, MemoryTier, Tier, TierError, TierEvent, TieredCache, WriteToken};

/// A memory tier that hands its event sink to the test.
struct Capture(Arc<MemoryTier>, Mutex<Option<EventSink>>);

#[async_trait]
impl Tier for Capture {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, TierError> {
        self.0.get(key).await
    }
    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), TierError> {
        self.0.set(key, value, ttl).await
    }
    async fn invalidate(&self, keys: &[String]) -> Result<(), TierError> {
        self.0.invalidate(keys).await
    }
    async fn invalidate_prefix(&self, prefix: &str) -> Result<u64, TierError> {
        self.0.invalidate_prefix(prefix).await
    }
    async fn try_lease(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, TierError> {
        self.0.try_lease(key, token, ttl).await
    }
    async fn set_with_lease(
        &self,
        key: &str,
        token: &str,
        value: Bytes,
        ttl: Duration,
        v: WriteToken,
    ) -> Result<bool, TierError> {
        self.0.set_with_lease(key, token, value, ttl, v).await
    }
    async fn get_meta(&self, name: &str) -> Result<Option<Bytes>, TierError> {
        self.0.get_meta(name).await
    }
    async fn set_meta(&self, name: &str, value: Bytes) -> Result<(), TierError> {
        self.0.set_meta(name, value).await
    }
    fn attach(&self, sink: EventSink) {
        *self.1.lock() = Some(sink);
    }
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_events_beyond_the_queue_becomes_one_flush() {
    let tier = Arc::new(Capture(MemoryStore::new().tier(), Mutex::new(None)));
    let cache = TieredCache::<String>::builder("q").tier(tier.clone()).build().await.unwrap();
    cache.set("x", "v".into()).await.unwrap();
    let sink = tier.1.lock().clone().unwrap();
    // The cache's event loop cannot run while this loop does not yield: the queue fills.
    for i in 0..10_000 {
        sink.send(TierEvent::Keys(vec![format!("other{i}")]));
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    let s = cache.stats();
    assert!(s.invalidations_received <= 4_096, "bounded: {s:?}");
    assert_eq!(s.l1_flushes, 1, "the overflow became one flush: {s:?}");
    assert_eq!(s.l1_entries, 0, "x was flushed: {s:?}");
    assert_eq!(cache.get("x").await.unwrap().as_deref(), Some("v"), "L2 still has it");
}
