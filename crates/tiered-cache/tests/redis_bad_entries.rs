//! Real Redis: a key of the wrong Redis type under one cache key (a list where the value or
//! its version should be) is that key's problem only. The server answered, so the breaker
//! records a success, the key reads as a counted corrupt miss, and every other key keeps
//! using L2.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{calls, counting_loader, redis_client};
use fred::interfaces::{KeysInterface, ListInterface};
use perfstack_tiered_cache::{LeaseConfig, Loader, TieredCache};

/// Long enough that a breaker opened during the test is still open when it is checked.
const OPEN_FOR: Duration = Duration::from_secs(60);

async fn instance(url: &str, ns: &str, loader: Option<Arc<dyn Loader<String>>>) -> TieredCache<String> {
    let mut b =
        TieredCache::<String>::builder("bad-entries").namespace(ns).redis(redis_client(url).await).breaker(3, OPEN_FOR);
    if let Some(l) = loader {
        b = b.loader(l);
    }
    b.build().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_type_value_is_a_corrupt_miss_not_an_outage() {
    let Some(rk) = perfstack_testkit::require_redis().await else { return };
    let (loader, n) = counting_loader(Duration::ZERO);
    let loader: Arc<dyn Loader<String>> = Arc::new(loader);
    let a = instance(rk.url(), rk.prefix(), Some(loader)).await;
    let writer = instance(rk.url(), rk.prefix(), None).await;
    writer.set("healthy", "h".into()).await.unwrap();
    let _: i64 = rk.client().lpush(rk.key("v:bad"), "not a cache entry").await.unwrap();

    for _ in 0..20 {
        assert_eq!(a.get("bad").await.unwrap(), None);
    }
    let s = a.stats();
    assert!(!s.breaker_open, "one bad key opened the breaker for every key");
    assert!(s.l2_corrupt >= 1, "the wrong-type entry was not counted as corrupt");
    assert_eq!(s.l2_errors, 0, "the server answered: not a backend error");

    assert_eq!(a.get("healthy").await.unwrap().as_deref(), Some("h"));
    assert_eq!(a.stats().l2_hits, 1, "a healthy key is still read from L2");

    assert_eq!(a.get_or_load("bad").await.unwrap().as_deref(), Some("value:bad"));
    assert_eq!(calls(&n), 1);
    let c = instance(rk.url(), rk.prefix(), None).await;
    assert_eq!(c.get("bad").await.unwrap().as_deref(), Some("value:bad"), "the load repaired L2");
    assert_eq!(c.stats().l2_hits, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_type_version_key_breaks_no_write() {
    let Some(rk) = perfstack_testkit::require_redis().await else { return };
    let (loader, n) = counting_loader(Duration::ZERO);
    let loader: Arc<dyn Loader<String>> = Arc::new(loader);
    let a = instance(rk.url(), rk.prefix(), Some(loader)).await;
    let version = rk.key("g:k");
    let list = || async {
        let _: i64 = rk.client().del(&version).await.unwrap();
        let _: i64 = rk.client().lpush(&version, "not a version").await.unwrap();
    };

    for _ in 0..5 {
        list().await;
        assert_eq!(a.get_or_load("k").await.unwrap().as_deref(), Some("value:k"));
        a.forget_local("k").await;
    }
    assert!(calls(&n) >= 1);
    assert_eq!(a.stats().l2_errors, 0, "a load's conditional write failed on the bad version");
    for i in 0..5 {
        list().await;
        a.set("k", format!("set {i}")).await.unwrap();
    }
    let b = instance(rk.url(), rk.prefix(), None).await;
    assert_eq!(b.get("k").await.unwrap().as_deref(), Some("set 4"), "the set reached L2");
    assert_eq!(a.stats().l2_errors, 0, "a set failed on the bad version");
    for _ in 0..5 {
        list().await;
        a.invalidate("k").await.unwrap();
    }
    let exists: i64 = rk.client().exists(rk.key("v:k")).await.unwrap();
    assert_eq!(exists, 0, "the invalidation removed the value");
    let s = a.stats();
    assert!(!s.breaker_open, "a bad version key opened the breaker");
    assert_eq!(s.l2_errors, 0, "an invalidation failed on the bad version");
    // Each write replaced the bad version with a number again.
    let version_now: Option<String> = rk.client().get(&version).await.unwrap();
    assert!(version_now.unwrap().parse::<u64>().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_type_version_or_epoch_breaks_no_leased_load_or_prefix_invalidation() {
    let Some(rk) = perfstack_testkit::require_redis().await else { return };
    let (loader, _) = counting_loader(Duration::ZERO);
    let leased = TieredCache::<String>::builder("bad-entries")
        .namespace(rk.prefix())
        .redis(redis_client(rk.url()).await)
        .breaker(3, OPEN_FOR)
        .loader(loader)
        .lease(LeaseConfig::new(Duration::from_secs(5), Duration::from_secs(1)))
        .build()
        .await
        .unwrap();
    let _: i64 = rk.client().lpush(rk.key("g:k"), "not a version").await.unwrap();
    assert_eq!(leased.get_or_load("k").await.unwrap().as_deref(), Some("value:k"));
    assert_eq!(leased.stats().leases_acquired, 1);
    assert_eq!(leased.stats().l2_errors, 0, "the leased write failed on the bad version");

    let _: i64 = rk.client().lpush(rk.key("epoch"), "not an epoch").await.unwrap();
    assert_eq!(leased.get_or_load("e").await.unwrap().as_deref(), Some("value:e"));
    assert_eq!(leased.stats().l2_errors, 0, "the leased write failed on the bad epoch");
    leased.invalidate_prefix("e").await.unwrap();
    assert_eq!(leased.stats().l2_errors, 0, "the prefix invalidation failed on the bad epoch");
    let epoch: Option<String> = rk.client().get(rk.key("epoch")).await.unwrap();
    assert_eq!(epoch.as_deref(), Some("1"), "the bad epoch was replaced");
    assert!(!leased.stats().breaker_open);
}
