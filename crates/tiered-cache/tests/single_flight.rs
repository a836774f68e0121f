//! Single-flight per process: one load, one L2 write, typed errors for every waiter,
//! cancellation safety.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{calls, counting_loader};
use perfstack_tiered_cache::{CacheError, MemoryStore, TieredCache};

#[tokio::test(start_paused = true)]
async fn thousand_concurrent_misses_run_the_loader_once_and_write_l2_once() {
    let (loader, n) = counting_loader(Duration::from_millis(50));
    let store = MemoryStore::new();
    let cache = TieredCache::<String>::builder("sf").tier(store.tier()).loader(loader).build().await.unwrap();
    let tasks: Vec<_> = (0..1_000)
        .map(|_| {
            let c = cache.clone();
            tokio::spawn(async move { c.get_or_load("hot").await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), Some("value:hot".to_owned()));
    }
    let s = cache.stats();
    assert_eq!(calls(&n), 1, "loader calls");
    assert_eq!(s.l2_writes, 1, "L2 writes");
    assert_eq!(s.loads, 1);
    assert_eq!(s.in_flight_loads, 0);
    assert_eq!(s.l1_misses, 1_000, "one L1 miss per caller, the load's own look not counted again");
}

#[tokio::test(start_paused = true)]
async fn a_failed_load_gives_every_waiter_the_same_typed_error() {
    let (loader, n) = counting_loader(Duration::from_millis(20));
    let cache = TieredCache::<String>::builder("sf").loader(loader).build().await.unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let c = cache.clone();
            tokio::spawn(async move { c.get_or_load("fail:1").await })
        })
        .collect();
    for t in tasks {
        match t.await.unwrap() {
            Err(CacheError::Load { key, source }) => {
                assert_eq!(key, "fail:1");
                assert_eq!(source.to_string(), "database is down");
            }
            other => panic!("expected a load error, got {other:?}"),
        }
    }
    assert_eq!(calls(&n), 1);
    assert_eq!(cache.stats().load_errors, 1);
    // Errors are not cached: the next call loads again.
    let _ = cache.get_or_load("fail:1").await;
    assert_eq!(calls(&n), 2);
}

#[tokio::test(start_paused = true)]
async fn a_caller_that_gives_up_does_not_cancel_the_load() {
    let (loader, n) = counting_loader(Duration::from_millis(100));
    let cache = TieredCache::<String>::builder("sf").loader(loader).build().await.unwrap();
    let impatient = tokio::time::timeout(Duration::from_millis(10), cache.get_or_load("k")).await;
    assert!(impatient.is_err(), "the first caller gave up");
    let patient = cache.clone();
    let waiter = tokio::spawn(async move { patient.get_or_load("k").await });
    assert_eq!(waiter.await.unwrap().unwrap(), Some("value:k".to_owned()));
    assert_eq!(calls(&n), 1, "the second caller joined the detached load");
    assert_eq!(cache.get("k").await.unwrap(), Some("value:k".to_owned()));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_loader_is_a_typed_error_and_does_not_wedge_the_key() {
    use perfstack_tiered_cache::{loader_fn, BoxError};
    let cache = TieredCache::<String>::builder("sf")
        .loader(loader_fn(|key: String| async move {
            if key == "boom" {
                panic!("loader bug");
            }
            Ok::<_, BoxError>(Some(key))
        }))
        .build()
        .await
        .unwrap();
    assert!(matches!(cache.get_or_load("boom").await, Err(CacheError::LoadAborted(_))));
    assert!(matches!(cache.get_or_load("boom").await, Err(CacheError::LoadAborted(_))));
    assert_eq!(cache.get_or_load("ok").await.unwrap(), Some("ok".to_owned()));
}

#[tokio::test(start_paused = true)]
async fn an_invalidation_during_the_load_voids_its_result() {
    let (loader, n) = counting_loader(Duration::from_millis(100));
    let cache = TieredCache::<String>::builder("sf").loader(loader).build().await.unwrap();
    let c = cache.clone();
    let load = tokio::spawn(async move { c.get_or_load("k").await });
    tokio::time::sleep(Duration::from_millis(10)).await;
    cache.invalidate("k").await.unwrap();
    assert_eq!(load.await.unwrap().unwrap(), Some("value:k".to_owned()), "the caller still gets its answer");
    assert_eq!(cache.get("k").await.unwrap(), None, "but the raced result was not stored");
    assert_eq!(cache.stats().loads_voided, 1);
    assert_eq!(calls(&n), 1);
}
