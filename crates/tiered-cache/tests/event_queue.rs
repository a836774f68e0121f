//! The invalidation event queue is bounded: a flood of events beyond it becomes one L1 flush
//! (nothing is silently lost, memory does not grow).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::hooked::{Hooked, Hooks};
use parking_lot::Mutex;
use perfstack_tiered_cache::{EventSink, MemoryStore, MemoryTier, TierEvent, TieredCache};

/// Hands the tier's event sink to the test instead of the memory tier.
struct Capture(Mutex<Option<EventSink>>);

impl Hooks for Capture {
    fn attach(&self, _inner: &MemoryTier, sink: EventSink) {
        *self.0.lock() = Some(sink);
    }
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_events_beyond_the_queue_becomes_one_flush() {
    let tier = Hooked::new(MemoryStore::new().tier(), Capture(Mutex::new(None)));
    let cache = TieredCache::<String>::builder("q").tier(tier.clone()).build().await.unwrap();
    cache.set("x", "v".into()).await.unwrap();
    let sink = tier.hooks.0.lock().clone().unwrap();
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
