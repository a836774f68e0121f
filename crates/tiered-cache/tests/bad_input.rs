//! Bad input: clear errors for keys and values, corrupt or foreign L2 bytes are a counted
//! miss, a codec mismatch is caught by the header, and L1 stays within its byte budget.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use perfstack_tiered_cache::{CacheError, JsonCodec, MemoryStore, Tier, TieredCache};

#[tokio::test]
async fn empty_and_oversized_keys_and_values_are_clear_errors() {
    let cache = TieredCache::<String>::builder("bad").limits(16, 64).build().await.unwrap();
    assert!(matches!(cache.get("").await, Err(CacheError::EmptyKey)));
    assert!(matches!(cache.set("", "v".into()).await, Err(CacheError::EmptyKey)));
    assert!(matches!(cache.get(&"k".repeat(17)).await, Err(CacheError::KeyTooLong { len: 17, max: 16 })));
    let err = cache.set("k", "x".repeat(100)).await.unwrap_err();
    assert!(matches!(err, CacheError::ValueTooLarge { max: 64, .. }), "{err}");
    assert!(err.to_string().contains("limit is 64"));
    assert!(matches!(cache.get_or_load("k").await, Err(CacheError::NoLoader(_))));
    assert!(matches!(cache.invalidate_prefix(&"p".repeat(17)).await, Err(CacheError::KeyTooLong { .. })));
    // The Redis tier's probe keys are the cache's own: no user key may look like one.
    let reserved = "\u{0}echo-probe:x";
    assert!(matches!(cache.set(reserved, "v".into()).await, Err(CacheError::ReservedKey(_))));
    assert!(matches!(cache.get(reserved).await, Err(CacheError::ReservedKey(_))));
    assert!(cache.set("\u{0}other", "v".into()).await.unwrap().is_confirmed(), "other NUL keys are fine");
}

#[tokio::test]
async fn corrupt_and_foreign_l2_bytes_are_a_counted_miss() {
    let store = MemoryStore::new();
    let raw = store.tier();
    let cache = TieredCache::<String>::builder("bad").tier(store.tier()).build().await.unwrap();
    let garbage: [&[u8]; 4] = [b"", b"p", b"hello, I am a string someone else wrote", &[b'p', b'C', 1, 30, 1, 0, 0]];
    for (i, g) in garbage.iter().enumerate() {
        raw.set(&format!("g{i}"), Bytes::copy_from_slice(g), Duration::from_secs(60)).await.unwrap();
        assert_eq!(cache.get(&format!("g{i}")).await.unwrap(), None);
    }
    assert_eq!(cache.stats().l2_corrupt, 4);
}

#[tokio::test]
async fn a_codec_mismatch_is_detected_by_the_header() {
    let store = MemoryStore::new();
    let postcard = TieredCache::<String>::builder("mix").tier(store.tier()).build().await.unwrap();
    let json = TieredCache::<String>::builder("mix").tier(store.tier()).codec(JsonCodec).build().await.unwrap();
    postcard.set("k", "v".into()).await.unwrap();
    assert_eq!(json.get("k").await.unwrap(), None, "other codec: a miss, not garbage");
    assert_eq!(json.stats().l2_corrupt, 1);
}

#[tokio::test]
async fn l1_stays_within_its_byte_budget() {
    let cache =
        TieredCache::<Vec<u8>>::builder("size").l1_max_bytes(64 * 1024).l1_eviction_stats(true).build().await.unwrap();
    for i in 0..200 {
        cache.set(&format!("k{i}"), vec![7u8; 1024]).await.unwrap();
    }
    cache.run_pending_tasks().await;
    let s = cache.stats();
    assert!(s.l1_bytes <= 64 * 1024, "weighted size {} over budget", s.l1_bytes);
    assert!(s.l1_entries < 64, "{} entries of ~1 KiB kept", s.l1_entries);
    assert!(s.evictions_size > 0);
}

#[test]
fn a_tier_is_object_safe() {
    let _t: Option<Arc<dyn Tier>> = None;
}

#[tokio::test]
async fn absurd_ttls_are_refused_at_build_not_a_panic_later() {
    use perfstack_tiered_cache::{ConfigError, LeaseConfig};
    let year = Duration::from_secs(365 * 24 * 3600);
    let cases: Vec<(&str, perfstack_tiered_cache::TieredCacheBuilder<String>)> = vec![
        ("ttl", TieredCache::builder("t").ttl(Duration::MAX)),
        ("ttl", TieredCache::builder("t").ttl(year + Duration::from_secs(1))),
        ("negative_ttl", TieredCache::builder("t").negative_ttl(Duration::MAX)),
        ("degraded_l1_ttl", TieredCache::builder("t").degraded_l1_ttl(Duration::MAX)),
        ("lease ttl", TieredCache::builder("t").lease(LeaseConfig::new(Duration::MAX, Duration::from_secs(1)))),
    ];
    for (what, b) in cases {
        let err = b.build().await.unwrap_err();
        assert!(matches!(err, ConfigError::Invalid(ref m) if m.starts_with(what)), "{what}: {err}");
    }
    // The longest accepted TTL works end to end (no overflow in the deadline maths).
    let c = TieredCache::<String>::builder("t").ttl(year).tier(MemoryStore::new().tier()).build().await.unwrap();
    c.set("k", "v".into()).await.unwrap();
    assert_eq!(c.get("k").await.unwrap().as_deref(), Some("v"));
}
