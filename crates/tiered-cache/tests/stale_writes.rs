//! Stale writes: an invalidation that lands while a load runs — even one this instance has
//! not heard of yet — keeps the loaded (possibly stale) value out of L2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::hooked::{Hooked, Hooks};
use perfstack_tiered_cache::{loader_fn, BoxError, EventSink, LeaseConfig, MemoryStore, MemoryTier, TieredCache};
use tokio::sync::Semaphore;

/// An instance that never hears invalidations (a pub/sub message still in flight).
struct Deaf;

impl Hooks for Deaf {
    fn attach(&self, _inner: &MemoryTier, _sink: EventSink) {}
}

/// A cache on `store` that hears nothing, whose loader waits for `gate` and returns "old".
async fn deaf_loader_cache(store: &MemoryStore, gate: Arc<Semaphore>, lease: bool) -> TieredCache<String> {
    let loader = loader_fn(move |_key: String| {
        let gate = gate.clone();
        async move {
            gate.acquire().await.unwrap().forget();
            Ok::<_, BoxError>(Some("old".to_owned()))
        }
    });
    let mut b = TieredCache::<String>::builder("stale").tier(Hooked::new(store.tier(), Deaf)).loader(loader);
    if lease {
        b = b.lease(LeaseConfig::new(Duration::from_secs(5), Duration::from_millis(50)));
    }
    b.build().await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_invalidation_during_a_load_keeps_the_result_out_of_l2_without_leases() {
    let store = MemoryStore::new();
    let gate = Arc::new(Semaphore::new(0));
    let a = deaf_loader_cache(&store, gate.clone(), false).await;
    let b = TieredCache::<String>::builder("stale").tier(store.tier()).build().await.unwrap();
    let la = a.clone();
    let load = tokio::spawn(async move { la.get_or_load("k").await });
    tokio::time::sleep(Duration::from_millis(1)).await;
    b.invalidate("k").await.unwrap(); // the source changed; A is not told in time
    gate.add_permits(1);
    assert_eq!(load.await.unwrap().unwrap().as_deref(), Some("old"), "the caller still gets its result");
    assert_eq!(b.get("k").await.unwrap(), None, "the stale result reached L2");
    assert_eq!(a.stats().loads_voided, 1);
}

#[tokio::test(start_paused = true)]
async fn a_prefix_invalidation_during_a_leased_load_keeps_the_result_out_of_l2() {
    let store = MemoryStore::new();
    let gate = Arc::new(Semaphore::new(0));
    let a = deaf_loader_cache(&store, gate.clone(), true).await;
    let b = TieredCache::<String>::builder("stale").tier(store.tier()).build().await.unwrap();
    let la = a.clone();
    let load = tokio::spawn(async move { la.get_or_load("user:1").await });
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(a.stats().leases_acquired, 1);
    b.invalidate_prefix("user:").await.unwrap();
    gate.add_permits(1);
    assert_eq!(load.await.unwrap().unwrap().as_deref(), Some("old"));
    assert_eq!(b.get("user:1").await.unwrap(), None, "the lease survived the prefix invalidation");
}

#[tokio::test(start_paused = true)]
async fn a_set_during_a_leased_load_is_not_overwritten_by_the_older_result() {
    let store = MemoryStore::new();
    let gate = Arc::new(Semaphore::new(0));
    let a = deaf_loader_cache(&store, gate.clone(), true).await;
    let b = TieredCache::<String>::builder("stale").tier(store.tier()).build().await.unwrap();
    let la = a.clone();
    let load = tokio::spawn(async move { la.get_or_load("k").await });
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(a.stats().leases_acquired, 1);
    b.set("k", "new".to_owned()).await.unwrap(); // A holds the lease but is not told in time
    gate.add_permits(1);
    assert_eq!(load.await.unwrap().unwrap().as_deref(), Some("old"));
    assert_eq!(b.get("k").await.unwrap().as_deref(), Some("new"), "the leased load overwrote a later set");
    assert_eq!(a.stats().loads_voided, 1);
}
