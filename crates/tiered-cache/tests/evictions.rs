//! L1 evictions by cause: explicit and expired are counted by the cache itself (once per
//! entry); size evictions by the map's eviction hook when asked for (`l1_eviction_stats`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use perfstack_tiered_cache::TieredCache;

#[tokio::test(start_paused = true)]
async fn explicit_and_expired_evictions_are_counted_once_each() {
    let cache = TieredCache::<String>::builder("ev").ttl(Duration::from_secs(10)).jitter(0.0).build().await.unwrap();
    cache.set("a", "1".into()).await.unwrap();
    cache.set("b", "2".into()).await.unwrap();
    cache.invalidate("a").await.unwrap();
    cache.invalidate("a").await.unwrap();
    cache.invalidate("never-there").await.unwrap();
    assert_eq!(cache.stats().evictions_explicit, 1, "only a removal of a present entry counts");

    tokio::time::advance(Duration::from_secs(11)).await;
    for _ in 0..3 {
        assert_eq!(cache.get("b").await.unwrap(), None);
    }
    let s = cache.stats();
    assert_eq!(s.evictions_expired, 1, "an expired entry read three times is one expiry");
    assert_eq!(s.evictions_size, 0);
}

#[tokio::test]
async fn a_flush_counts_what_l1_held() {
    let cache = TieredCache::<String>::builder("ev-flush").build().await.unwrap();
    for i in 0..5 {
        cache.set(&format!("k{i}"), "v".into()).await.unwrap();
    }
    cache.run_pending_tasks().await;
    cache.invalidate_prefix("").await.unwrap();
    assert_eq!(cache.stats().evictions_explicit, 5);
}

#[tokio::test]
async fn size_evictions_are_counted_only_when_asked_for() {
    for on in [false, true] {
        let cache = TieredCache::<Vec<u8>>::builder("ev-size")
            .l1_max_bytes(16 * 1024)
            .l1_eviction_stats(on)
            .build()
            .await
            .unwrap();
        for i in 0..100 {
            cache.set(&format!("k{i}"), vec![1u8; 1024]).await.unwrap();
        }
        cache.run_pending_tasks().await;
        assert!(cache.stats().l1_entries < 100);
        assert_eq!(cache.stats().evictions_size > 0, on, "l1_eviction_stats({on})");
    }
}

#[tokio::test]
async fn a_value_too_heavy_for_l1_leaves_no_older_value_there() {
    let store = perfstack_tiered_cache::MemoryStore::new();
    // 64 KiB of L1: a 200 KiB value cannot be kept in it.
    let cache =
        TieredCache::<String>::builder("ev-heavy").tier(store.tier()).l1_max_bytes(64 * 1024).build().await.unwrap();
    cache.set("k", "small".into()).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some("small"));
    assert_eq!(cache.stats().l1_hits, 1, "the small value is in L1");
    let heavy = "h".repeat(200 * 1024);
    cache.set("k", heavy.clone()).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(heavy), "L1 kept the value the set replaced");
    assert_eq!(cache.stats().l2_hits, 1, "the heavy value is read from L2, not kept in L1");
}
