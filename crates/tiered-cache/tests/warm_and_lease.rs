//! Warming a new instance from the persisted hot keys, and lease mode across instances
//! (in-memory tier; the Redis versions are in `redis.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{calls, counting_loader};
use perfstack_tiered_cache::{LeaseConfig, MemoryStore, TieredCache};

#[tokio::test(start_paused = true)]
async fn a_new_instance_starts_warm_from_the_hot_key_list() {
    let store = MemoryStore::new();
    let (loader, n) = counting_loader(Duration::from_millis(1));
    let a = TieredCache::<String>::builder("warm").tier(store.tier()).loader(loader).build().await.unwrap();
    // Hits are sampled (1 in 16, at random): 400 reads of a key leave it unsampled with
    // probability (15/16)^399, about 1e-11.
    for round in 0..1_000 {
        for k in 0..10 {
            if round < 400 || k < 3 {
                a.get_or_load(&format!("k{k}")).await.unwrap();
            }
        }
    }
    assert_eq!(a.persist_hot_keys().await, 10);
    let (loader_b, nb) = counting_loader(Duration::from_millis(1));
    let b = TieredCache::<String>::builder("warm").tier(store.tier()).loader(loader_b).build().await.unwrap();
    assert_eq!(b.warm().await.unwrap(), 10);
    assert_eq!(calls(&nb), 0, "warmed from L2, not the loader");
    for k in 0..10 {
        b.get(&format!("k{k}")).await.unwrap().unwrap();
    }
    assert_eq!(b.stats().l1_hits, 10);
    assert_eq!(calls(&n), 10);
    assert_eq!(a.hot_keys()[..3].len(), 3);
}

#[tokio::test(start_paused = true)]
async fn lease_mode_loads_once_across_instances() {
    let store = MemoryStore::new();
    let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let lease = LeaseConfig::new(Duration::from_secs(5), Duration::from_secs(1));
    let mut caches = Vec::new();
    for _ in 0..4 {
        caches.push(
            TieredCache::<String>::builder("lease")
                .tier(store.tier())
                .loader(loader_clone(&n))
                .lease(lease)
                .build()
                .await
                .unwrap(),
        );
    }
    let tasks: Vec<_> = caches
        .iter()
        .flat_map(|c| (0..50).map(move |_| c.clone()))
        .map(|c| tokio::spawn(async move { c.get_or_load("k").await }))
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), Some("value:k".to_owned()));
    }
    assert_eq!(calls(&n), 1, "one load across four instances");
    let waits: u64 = caches.iter().map(|c| c.stats().lease_waits).sum();
    assert_eq!(waits, 3);
    assert_eq!(caches.iter().map(|c| c.stats().lease_wait_timeouts).sum::<u64>(), 0, "woken, not timed out");
}

#[tokio::test(start_paused = true)]
async fn a_lease_of_a_dead_instance_expires_and_an_invalidation_voids_the_holder() {
    use perfstack_tiered_cache::Tier;
    let store = MemoryStore::new();
    let raw = store.tier();
    // A "dead instance" took the lease and never wrote.
    assert!(raw.try_lease("k", "dead", Duration::from_millis(300)).await.unwrap());
    let (loader, n) = counting_loader(Duration::from_millis(10));
    let lease = LeaseConfig::new(Duration::from_millis(300), Duration::from_millis(100));
    let c =
        TieredCache::<String>::builder("lease").tier(store.tier()).loader(loader).lease(lease).build().await.unwrap();
    assert_eq!(c.get_or_load("k").await.unwrap(), Some("value:k".to_owned()), "fell back after the bounded wait");
    assert_eq!(c.stats().lease_wait_timeouts, 1);
    assert_eq!(calls(&n), 1);
    // The dead holder's lease expires on its own: after its TTL the next instance takes it.
    tokio::time::advance(Duration::from_millis(300)).await;
    assert!(raw.try_lease("k", "next", Duration::from_millis(300)).await.unwrap());
    // Facebook's rule: invalidating while the holder loads deletes its lease; its set is refused.
    assert!(raw.try_lease("j", "holder", Duration::from_secs(5)).await.unwrap());
    let versions = raw.write_token("j").await.unwrap();
    raw.invalidate(&["j".to_owned()]).await.unwrap();
    assert!(!raw.set_with_lease("j", "holder", "stale".into(), Duration::from_secs(5), versions).await.unwrap());
    assert_eq!(raw.get("j").await.unwrap(), None);
}

fn loader_clone(n: &std::sync::Arc<std::sync::atomic::AtomicUsize>) -> impl perfstack_tiered_cache::Loader<String> {
    let n = n.clone();
    perfstack_tiered_cache::loader_fn(move |key: String| {
        let n = n.clone();
        async move {
            n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok::<_, perfstack_tiered_cache::BoxError>(Some(format!("value:{key}")))
        }
    })
}

#[tokio::test(start_paused = true)]
async fn the_hot_key_list_is_persisted_in_the_background_on_its_interval() {
    let store = MemoryStore::new();
    let (loader, _) = counting_loader(Duration::from_millis(1));
    let every = Duration::from_secs(30);
    let a = TieredCache::<String>::builder("bg")
        .tier(store.tier())
        .loader(loader)
        .persist_hot_keys_every(Some(every))
        .build()
        .await
        .unwrap();
    for _ in 0..400 {
        for k in 0..5 {
            a.get_or_load(&format!("k{k}")).await.unwrap();
        }
    }
    let (loader_b, _) = counting_loader(Duration::from_millis(1));
    let b = TieredCache::<String>::builder("bg").tier(store.tier()).loader(loader_b).build().await.unwrap();
    tokio::time::sleep(every - Duration::from_secs(1)).await;
    assert_eq!(b.warm().await.unwrap(), 0, "nothing persisted before the first interval");
    // Virtual time: each sleep lets the runtime run the persist task once its tick is due.
    let mut warmed = 0;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        warmed = b.warm().await.unwrap();
        if warmed > 0 {
            break;
        }
    }
    assert_eq!(warmed, 5, "the background task stored the list within the interval");
}

#[tokio::test]
async fn a_zero_persist_interval_is_refused_at_build() {
    let store = MemoryStore::new();
    let r = TieredCache::<String>::builder("bg0")
        .tier(store.tier())
        .persist_hot_keys_every(Some(Duration::ZERO))
        .build()
        .await;
    assert!(r.is_err());
}

#[tokio::test(start_paused = true)]
async fn a_failed_leased_load_releases_its_lease_so_others_do_not_wait_it_out() {
    let store = MemoryStore::new();
    let lease = LeaseConfig::new(Duration::from_secs(5), Duration::from_secs(1));
    let build = |loader| TieredCache::<String>::builder("lease").tier(store.tier()).loader(loader).lease(lease).build();
    let (loader_a, na) = counting_loader(Duration::from_millis(20));
    let (loader_b, nb) = counting_loader(Duration::from_millis(20));
    let (a, b) = (build(loader_a).await.unwrap(), build(loader_b).await.unwrap());
    let la = a.clone();
    let first = tokio::spawn(async move { la.get_or_load("fail-k").await });
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(a.stats().leases_acquired, 1);
    let started = tokio::time::Instant::now();
    assert!(b.get_or_load("fail-k").await.is_err(), "B loads itself once A gave the lease back");
    assert!(first.await.unwrap().is_err());
    assert!(started.elapsed() < lease.wait, "B waited out the failed holder's lease: {:?}", started.elapsed());
    assert_eq!((b.stats().lease_waits, b.stats().lease_wait_timeouts), (1, 0), "woken, not timed out");
    assert_eq!((calls(&na), calls(&nb)), (1, 1));
    // The next miss anywhere takes the lease at once.
    assert!(a.get_or_load("fail-k").await.is_err());
    assert_eq!(a.stats().leases_acquired, 2);
}

#[tokio::test(start_paused = true)]
async fn a_released_lease_wakes_waiters_without_invalidating_other_instances() {
    let store = MemoryStore::new();
    let lease = LeaseConfig::new(Duration::from_secs(5), Duration::from_secs(1));
    let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let build = |f: std::sync::Arc<std::sync::atomic::AtomicBool>| {
        let loader = perfstack_tiered_cache::loader_fn(move |k: String| {
            let f = f.clone();
            async move {
                if f.load(std::sync::atomic::Ordering::SeqCst) {
                    return Err::<Option<String>, perfstack_tiered_cache::BoxError>("down".into());
                }
                Ok(Some(format!("value:{k}")))
            }
        });
        TieredCache::<String>::builder("lease")
            .tier(store.tier())
            .ttl(Duration::from_secs(60))
            .soft_ttl(Duration::from_secs(2))
            .jitter(0.0)
            .loader(loader)
            .lease(lease)
            .build()
    };
    let (a, b) = (build(failing.clone()).await.unwrap(), build(failing.clone()).await.unwrap());
    assert!(a.get_or_load("k").await.unwrap().is_some());
    assert!(b.get_or_load("k").await.unwrap().is_some()); // now in both L1s
    tokio::time::sleep(Duration::from_millis(10)).await;
    let heard = b.stats().invalidations_received;
    failing.store(true, std::sync::atomic::Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(3)).await; // stale in both
    assert_eq!(a.get("k").await.unwrap().as_deref(), Some("value:k"), "stale served; A's refresh fails");
    assert!(common::eventually(Duration::from_secs(1), || async { a.stats().refresh_errors == 1 }).await);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(b.stats().invalidations_received, heard, "A's released lease reached B as an invalidation");
    assert_eq!(b.stats().evictions_explicit, 0);
    assert_eq!(b.get("k").await.unwrap().as_deref(), Some("value:k"), "B still serves its stale copy");
}
