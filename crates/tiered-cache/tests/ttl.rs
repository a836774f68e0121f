//! Paused-time tests: soft/hard TTL (stale-while-revalidate), negative caching, remaining-TTL
//! promotion, jitter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{calls, counting_loader};
use perfstack_tiered_cache::{loader_fn, BoxError, MemoryStore, TieredCache};

const S: Duration = Duration::from_secs(1);

async fn settle() {
    // Let spawned refresh tasks run (paused time: no real waiting).
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[tokio::test(start_paused = true)]
async fn stale_value_served_while_one_refresh_runs_and_kept_when_it_fails() {
    let version = Arc::new(AtomicUsize::new(1));
    let failing = Arc::new(AtomicBool::new(false));
    let loads = Arc::new(AtomicUsize::new(0));
    let (v, f, l) = (version.clone(), failing.clone(), loads.clone());
    let cache = TieredCache::<String>::builder("swr")
        .ttl(10 * S)
        .soft_ttl(2 * S)
        .jitter(0.0)
        .loader(loader_fn(move |_k: String| {
            let (v, f, l) = (v.clone(), f.clone(), l.clone());
            async move {
                l.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                if f.load(Ordering::SeqCst) {
                    return Err::<Option<String>, BoxError>("down".into());
                }
                Ok(Some(format!("v{}", v.load(Ordering::SeqCst))))
            }
        }))
        .build()
        .await
        .unwrap();
    assert_eq!(cache.get_or_load("k").await.unwrap().unwrap(), "v1");
    version.store(2, Ordering::SeqCst);
    tokio::time::advance(3 * S).await; // past soft, before hard
    for _ in 0..50 {
        assert_eq!(cache.get_or_load("k").await.unwrap().unwrap(), "v1", "stale served at once");
    }
    settle().await;
    assert_eq!(loads.load(Ordering::SeqCst), 2, "exactly one background refresh");
    settle().await;
    tokio::time::advance(Duration::from_millis(200)).await;
    settle().await;
    assert_eq!(cache.get_or_load("k").await.unwrap().unwrap(), "v2", "refreshed");
    assert_eq!(cache.stats().refreshes, 1);

    // Now the source fails: the stale value is kept until the hard TTL, the error counted.
    failing.store(true, Ordering::SeqCst);
    tokio::time::advance(3 * S).await;
    assert_eq!(cache.get_or_load("k").await.unwrap().unwrap(), "v2");
    settle().await;
    tokio::time::advance(Duration::from_millis(200)).await;
    settle().await;
    assert_eq!(cache.get_or_load("k").await.unwrap().unwrap(), "v2", "kept after a failed refresh");
    assert_eq!(cache.stats().refresh_errors, 1);
    // Within the retry backoff (1 s by default) stale reads start no other refresh: a failing
    // source is not called on every read.
    let loads_before = loads.load(Ordering::SeqCst);
    for _ in 0..50 {
        assert_eq!(cache.get_or_load("k").await.unwrap().unwrap(), "v2");
        tokio::time::advance(Duration::from_millis(10)).await;
        settle().await;
    }
    assert_eq!(loads.load(Ordering::SeqCst), loads_before, "a refresh started within the backoff");
    tokio::time::advance(S).await;
    assert_eq!(cache.get_or_load("k").await.unwrap().unwrap(), "v2");
    settle().await;
    assert_eq!(loads.load(Ordering::SeqCst), loads_before + 1, "one refresh after the backoff");
    tokio::time::advance(10 * S).await; // past hard
    assert!(cache.get_or_load("k").await.is_err(), "after the hard TTL the failure shows");
}

#[tokio::test(start_paused = true)]
async fn not_found_is_cached_for_the_negative_ttl() {
    let (loader, n) = counting_loader(Duration::from_millis(5));
    let cache = TieredCache::<String>::builder("neg")
        .ttl(60 * S)
        .negative_ttl(5 * S)
        .jitter(0.0)
        .loader(loader)
        .build()
        .await
        .unwrap();
    assert_eq!(cache.get_or_load("missing:1").await.unwrap(), None);
    tokio::time::advance(4 * S).await;
    assert_eq!(cache.get_or_load("missing:1").await.unwrap(), None);
    assert_eq!(calls(&n), 1, "the 'not found' was cached");
    assert_eq!(cache.stats().negative_hits, 1);
    tokio::time::advance(2 * S).await;
    assert_eq!(cache.get_or_load("missing:1").await.unwrap(), None);
    assert_eq!(calls(&n), 2, "negative TTL over: loaded again");
}

#[tokio::test(start_paused = true)]
async fn value_promoted_from_l2_keeps_its_remaining_lifetime() {
    let store = MemoryStore::new();
    let a = TieredCache::<u64>::builder("rem").tier(store.tier()).ttl(10 * S).jitter(0.0).build().await.unwrap();
    let b = TieredCache::<u64>::builder("rem").tier(store.tier()).ttl(10 * S).jitter(0.0).build().await.unwrap();
    a.set("k", 1).await.unwrap();
    tokio::time::advance(6 * S).await;
    assert_eq!(b.get("k").await.unwrap(), Some(1), "promoted into B's L1 at t=6s");
    assert_eq!(b.stats().l2_hits, 1);
    tokio::time::advance(3 * S).await;
    assert_eq!(b.get("k").await.unwrap(), Some(1));
    assert_eq!(b.stats().l1_hits, 1, "served by L1 at t=9s");
    tokio::time::advance(2 * S).await;
    // t=11s: a fresh 10 s TTL from t=6s would still hold; the remaining lifetime did not.
    assert_eq!(b.get("k").await.unwrap(), None);
}

#[tokio::test(start_paused = true)]
async fn keys_written_together_do_not_expire_together() {
    let cache = TieredCache::<u64>::builder("jit").ttl(100 * S).jitter(0.2).build().await.unwrap();
    for i in 0..200 {
        cache.set(&format!("k{i}"), i).await.unwrap();
    }
    let start = tokio::time::Instant::now();
    let mut alive_at = Vec::new();
    for step in [79, 85, 90, 95, 101] {
        tokio::time::advance(Duration::from_secs(step) - start.elapsed()).await;
        let mut alive = 0;
        for i in 0..200 {
            if cache.get(&format!("k{i}")).await.unwrap().is_some() {
                alive += 1;
            }
        }
        alive_at.push(alive);
    }
    assert_eq!(alive_at[0], 200, "jitter never lengthens nor cuts more than 20 %");
    assert!(alive_at[2] > 0 && alive_at[2] < 200, "expiries spread over the jitter window: {alive_at:?}");
    assert_eq!(alive_at[4], 0);
}
