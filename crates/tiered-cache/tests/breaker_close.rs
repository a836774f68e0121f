//! Whatever L2 call happens to be the half-open probe that closes the breaker after an
//! outage — a plain read, a lease, a prefix invalidation, warming — L1 (which holds values
//! written during the outage) is flushed, so coherence comes back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::counting_loader;
use common::hooked::{Call, Hooked, Hooks};
use perfstack_tiered_cache::{LeaseConfig, MemoryStore, TierError, TieredCache};
use tokio::sync::Semaphore;

/// Every call fails while `down`; `get("slow")` first waits for `gate`.
struct Flaky {
    down: AtomicBool,
    gate: Semaphore,
}

#[async_trait]
impl Hooks for Flaky {
    async fn before(&self, call: Call, key: &str) -> Result<(), TierError> {
        if call == Call::Get && key == "slow" {
            self.gate.acquire().await.unwrap().forget();
        }
        if self.down.load(Ordering::SeqCst) {
            return Err(TierError::Backend("down".into()));
        }
        Ok(())
    }
}

async fn setup(lease: bool) -> (TieredCache<String>, Arc<Hooked<Flaky>>) {
    let store = MemoryStore::new();
    let flaky = Hooked::new(store.tier(), Flaky { down: AtomicBool::new(false), gate: Semaphore::new(0) });
    let (loader, _) = counting_loader(Duration::from_millis(1));
    let mut b = TieredCache::<String>::builder("probe")
        .tier(flaky.clone())
        .loader(loader)
        .breaker(3, Duration::from_millis(200))
        .degraded_l1_ttl(Duration::from_secs(60));
    if lease {
        b = b.lease(LeaseConfig::new(Duration::from_secs(5), Duration::from_millis(100)));
    }
    let cache = b.build().await.unwrap();
    cache.set("x", "before".into()).await.unwrap();
    (cache, flaky)
}

/// Opens the breaker with failing reads, then loads "y" into L1 only (L2 cannot be written).
/// A load, not a `set`: a `set` would leave a pending invalidation whose retry could be the
/// probe (tested in `pending.rs`).
async fn outage(cache: &TieredCache<String>, flaky: &Hooked<Flaky>) {
    flaky.hooks.down.store(true, Ordering::SeqCst);
    for k in ["a", "b", "c"] {
        assert_eq!(cache.get(k).await.unwrap(), None);
    }
    assert!(cache.stats().breaker_open);
    assert_eq!(cache.get_or_load("y").await.unwrap().as_deref(), Some("value:y"));
    assert_eq!(cache.get("y").await.unwrap().as_deref(), Some("value:y"), "L1 only while open");
    tokio::time::advance(Duration::from_millis(250)).await;
    flaky.hooks.down.store(false, Ordering::SeqCst);
}

async fn assert_flushed(cache: &TieredCache<String>) {
    let s = cache.stats();
    assert!(!s.breaker_open, "{s:?}");
    assert!(s.l1_flushes >= 1, "the close did not flush L1: {s:?}");
    assert_eq!(cache.get("y").await.unwrap(), None, "L1 kept the outage value");
    assert_eq!(cache.get("x").await.unwrap().as_deref(), Some("before"), "L2 is read again");
}

#[tokio::test(start_paused = true)]
async fn the_closing_probe_is_a_prefix_invalidation() {
    let (cache, flaky) = setup(false).await;
    outage(&cache, &flaky).await;
    cache.invalidate_prefix("zzz").await.unwrap();
    assert_flushed(&cache).await;
}

#[tokio::test(start_paused = true)]
async fn the_closing_probe_is_warming() {
    let (cache, flaky) = setup(false).await;
    outage(&cache, &flaky).await;
    cache.warm().await.unwrap();
    assert_flushed(&cache).await;
}

#[tokio::test(start_paused = true)]
async fn the_closing_probe_is_persisting_hot_keys() {
    let (cache, flaky) = setup(false).await;
    outage(&cache, &flaky).await;
    cache.persist_hot_keys().await;
    assert_flushed(&cache).await;
}

#[tokio::test(start_paused = true)]
async fn the_closing_probe_is_a_lease_taken_by_a_load() {
    let (cache, flaky) = setup(true).await;
    // A load whose L2 read started before the outage and finishes after it: its read's
    // outcome is stale for the breaker, so the lease it takes next is the closing probe.
    let c = cache.clone();
    let load = tokio::spawn(async move { c.get_or_load("slow").await });
    tokio::time::sleep(Duration::from_millis(1)).await;
    outage(&cache, &flaky).await;
    flaky.hooks.gate.add_permits(1);
    assert_eq!(load.await.unwrap().unwrap().as_deref(), Some("value:slow"));
    assert_flushed(&cache).await;
}
