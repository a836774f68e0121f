//! Real Redis: two instances with separate clients stay coherent, lease mode loads once
//! across them, FLUSHALL and reconnects flush L1, corrupt bytes are a counted miss.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{calls, counting_loader, eventually, redis_client};
use std::sync::Arc;

use fred::interfaces::{ClientLike, KeysInterface};
use perfstack_tiered_cache::{loader_fn, BoxError, LeaseConfig, Loader, TieredCache};

const WITHIN: Duration = Duration::from_secs(2);

async fn instance(url: &str, ns: &str, loader: Option<impl Loader<String>>) -> TieredCache<String> {
    let mut b = TieredCache::<String>::builder("redis-test").namespace(ns).redis(redis_client(url).await);
    if let Some(l) = loader {
        b = b.loader(l);
    }
    b.build().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_or_invalidate_on_one_instance_is_seen_by_the_other() {
    let Some(rk) = perfstack_testkit::require_redis().await else { return };
    let none: Option<Arc<dyn Loader<String>>> = None;
    let a = instance(rk.url(), rk.prefix(), none.clone()).await;
    let bc = redis_client(rk.url()).await;
    let b =
        TieredCache::<String>::builder("redis-test").namespace(rk.prefix()).redis(bc.clone()).build().await.unwrap();

    a.set("user:1", "v1".into()).await.unwrap();
    // B is told about A's write (client tracking); wait for it so it cannot evict the read below.
    assert!(eventually(WITHIN, || async { b.stats().invalidations_received >= 1 }).await);
    assert_eq!(b.get("user:1").await.unwrap().as_deref(), Some("v1"), "B reads A's value from L2");
    assert_eq!(b.get("user:1").await.unwrap().as_deref(), Some("v1"));
    assert_eq!(b.stats().l1_hits, 1, "and then holds it in L1");

    a.set("user:1", "v2".into()).await.unwrap();
    assert!(eventually(WITHIN, || async { b.get("user:1").await.unwrap().as_deref() == Some("v2") }).await);

    a.invalidate("user:1").await.unwrap();
    assert!(eventually(WITHIN, || async { b.get("user:1").await.unwrap().is_none() }).await);

    for i in 0..5 {
        a.set(&format!("order:{i}"), "o".into()).await.unwrap();
        b.get(&format!("order:{i}")).await.unwrap();
    }
    a.set("user:2", "keep".into()).await.unwrap();
    assert_eq!(a.invalidate_prefix("order:").await.unwrap().removed, 5);
    assert!(
        eventually(WITHIN, || async {
            let mut gone = true;
            for i in 0..5 {
                gone &= b.get(&format!("order:{i}")).await.unwrap().is_none();
            }
            gone
        })
        .await
    );
    assert_eq!(b.get("user:2").await.unwrap().as_deref(), Some("keep"));
    assert!(b.stats().invalidations_received > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_misses_load_once_and_write_redis_once() {
    let Some(rk) = perfstack_testkit::require_redis().await else { return };
    let (loader, n) = counting_loader(Duration::from_millis(50));
    let cache = instance(rk.url(), rk.prefix(), Some(loader)).await;
    let tasks: Vec<_> = (0..1_000)
        .map(|_| {
            let c = cache.clone();
            tokio::spawn(async move { c.get_or_load("hot").await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().as_deref(), Some("value:hot"));
    }
    assert_eq!(calls(&n), 1);
    assert_eq!(cache.stats().l2_writes, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_mode_runs_the_loader_once_across_instances() {
    let Some(rk) = perfstack_testkit::require_redis().await else { return };
    let (loader, n) = counting_loader(Duration::from_millis(100));
    let loader = std::sync::Arc::new(loader);
    let mut caches = Vec::new();
    for _ in 0..3 {
        let shared = loader.clone();
        caches.push(
            TieredCache::<String>::builder("redis-test")
                .namespace(rk.prefix())
                .redis(redis_client(rk.url()).await)
                .loader(shared)
                .lease(LeaseConfig::new(Duration::from_secs(5), Duration::from_secs(2)))
                .build()
                .await
                .unwrap(),
        );
    }
    let tasks: Vec<_> = caches
        .iter()
        .flat_map(|c| (0..100).map(move |_| c.clone()))
        .map(|c| tokio::spawn(async move { c.get_or_load("k").await }))
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().as_deref(), Some("value:k"));
    }
    assert_eq!(calls(&n), 1, "one load across three instances");
    assert_eq!(caches.iter().map(|c| c.stats().leases_acquired).sum::<u64>(), 1);
    assert_eq!(caches.iter().map(|c| c.stats().lease_wait_timeouts).sum::<u64>(), 0, "woken by the channel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_bytes_in_redis_are_a_counted_miss() {
    let Some(rk) = perfstack_testkit::require_redis().await else { return };
    let none: Option<Arc<dyn Loader<String>>> = None;
    let cache = instance(rk.url(), rk.prefix(), none).await;
    let raw = rk.key("v:bad");
    let _: () = rk.client().set(&raw, "not a cache entry", None, None, false).await.unwrap();
    assert_eq!(cache.get("bad").await.unwrap(), None);
    assert_eq!(cache.stats().l2_corrupt, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flushall_and_reconnect_clear_every_instances_l1() {
    let Some(_rk) = perfstack_testkit::require_redis().await else { return };
    let mut srv = perfstack_testkit::RedisServer::start().await.unwrap();
    let url = srv.url();
    let none: Option<Arc<dyn Loader<String>>> = None;
    let a = instance(&url, "ns:", none.clone()).await;
    let b = instance(&url, "ns:", none).await;
    a.set("k", "v".into()).await.unwrap();
    assert!(eventually(WITHIN, || async { b.stats().invalidations_received >= 1 }).await);
    assert_eq!(b.get("k").await.unwrap().as_deref(), Some("v"));
    a.run_pending_tasks().await;
    b.run_pending_tasks().await;
    assert_eq!(a.stats().l1_entries + b.stats().l1_entries, 2);

    let admin = redis_client(&url).await;
    let _: () = admin.flushall(false).await.unwrap();
    assert!(
        eventually(WITHIN, || async { a.stats().l1_flushes >= 1 && b.stats().l1_flushes >= 1 }).await,
        "FLUSHALL reached both instances"
    );
    assert_eq!(a.get("k").await.unwrap(), None);
    assert_eq!(b.get("k").await.unwrap(), None);

    // A reconnect flushes too (messages may have been missed while disconnected).
    a.set("k2", "v".into()).await.unwrap();
    let before = a.stats().l1_flushes;
    srv.kill();
    srv.restart().await.unwrap();
    assert!(eventually(Duration::from_secs(5), || async { a.stats().l1_flushes > before }).await);
    assert_eq!(a.get("k2").await.unwrap(), None, "L1 flushed after the reconnect");
    let _ = admin.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_caches_built_from_one_client_both_stay_coherent() {
    let Some(rk) = perfstack_testkit::require_redis().await else { return };
    let shared = redis_client(rk.url()).await;
    let ns1 = format!("{}one:", rk.prefix());
    let ns2 = format!("{}two:", rk.prefix());
    let build = |ns: String, client: fred::clients::Client| async move {
        TieredCache::<String>::builder("shared").namespace(&ns).redis(client).build().await.unwrap()
    };
    let (a1, a2) = (build(ns1.clone(), shared.clone()).await, build(ns2.clone(), shared.clone()).await);
    let (b1, b2) = (build(ns1, redis_client(rk.url()).await).await, build(ns2, redis_client(rk.url()).await).await);
    for (a, b) in [(&a1, &b1), (&a2, &b2)] {
        b.set("k", "old".into()).await.unwrap();
        assert!(eventually(WITHIN, || async { a.stats().invalidations_received >= 1 }).await);
        assert_eq!(a.get("k").await.unwrap().as_deref(), Some("old"));
        b.set("k", "new".into()).await.unwrap();
        assert!(
            eventually(WITHIN, || async { a.get("k").await.unwrap().as_deref() == Some("new") }).await,
            "a cache sharing its client with another one missed an invalidation"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_during_a_leased_load_keeps_the_stale_result_out_of_redis() {
    let Some(rk) = perfstack_testkit::require_redis().await else { return };
    let (loader, n) = counting_loader(Duration::from_millis(300));
    let a = TieredCache::<String>::builder("redis-test")
        .namespace(rk.prefix())
        .redis(redis_client(rk.url()).await)
        .loader(loader)
        .lease(LeaseConfig::new(Duration::from_secs(5), Duration::from_secs(1)))
        .build()
        .await
        .unwrap();
    let none: Option<Arc<dyn Loader<String>>> = None;
    let b = instance(rk.url(), rk.prefix(), none).await;
    let la = a.clone();
    let load = tokio::spawn(async move { la.get_or_load("k").await });
    assert!(eventually(WITHIN, || async { a.stats().leases_acquired == 1 }).await);
    b.invalidate("k").await.unwrap(); // deletes the value and A's lease
    assert_eq!(load.await.unwrap().unwrap().as_deref(), Some("value:k"), "the caller still gets its answer");
    assert_eq!(calls(&n), 1);
    assert!(a.stats().loads_voided >= 1);
    let exists: i64 = rk.client().exists(rk.key("v:k")).await.unwrap();
    assert_eq!(exists, 0, "the raced result was not written to Redis");
    assert_eq!(b.get("k").await.unwrap(), None);
}

/// Redis 7.0 ignores NOLOOP for keys written by a Lua script in BCAST mode; a scripted `set`
/// came back as an invalidation of the writer's own fresh L1 entry. `set` is MULTI/EXEC now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_does_not_invalidate_the_writers_own_l1() {
    let Some(rk) = perfstack_testkit::require_redis().await else { return };
    let none: Option<Arc<dyn Loader<String>>> = None;
    let a = instance(rk.url(), rk.prefix(), none.clone()).await;
    let b = instance(rk.url(), rk.prefix(), none).await;
    a.set("mine", "v".into()).await.unwrap();
    // Redis delivers invalidations in order: once A has heard of B's later write, it would
    // also have heard of its own, had Redis sent it.
    b.set("theirs", "w".into()).await.unwrap();
    assert!(eventually(WITHIN, || async { a.stats().invalidations_received >= 1 }).await);
    assert_eq!(a.stats().evictions_explicit, 0, "A dropped its own write from L1");
    assert_eq!(a.get("mine").await.unwrap().as_deref(), Some("v"));
    assert_eq!(a.stats().l1_hits, 1);
    assert_eq!(a.stats().invalidations_received, 1, "only B's write reached A");
}

#[tokio::test]
async fn a_load_does_not_invalidate_the_loaders_own_l1() {
    let Some(rk) = perfstack_testkit::require_redis().await else { return };
    let load = loader_fn(|k: String| async move { Ok::<_, BoxError>(Some(format!("loaded {k}"))) });
    let a = instance(rk.url(), rk.prefix(), Some(load)).await;
    let none: Option<Arc<dyn Loader<String>>> = None;
    let b = instance(rk.url(), rk.prefix(), none).await;
    assert_eq!(a.get_or_load("mine").await.unwrap().as_deref(), Some("loaded mine"));
    // Redis delivers invalidations in order: once A has heard of B's later write, it would
    // also have heard of its own conditional (scripted) write, had Redis sent it.
    b.set("theirs", "w".into()).await.unwrap();
    assert!(eventually(WITHIN, || async { a.stats().invalidations_received >= 1 }).await);
    assert_eq!(a.stats().evictions_explicit, 0, "A dropped its own load from L1");
    assert_eq!(a.get("mine").await.unwrap().as_deref(), Some("loaded mine"));
    assert_eq!(a.stats().l1_hits, 1);
}
