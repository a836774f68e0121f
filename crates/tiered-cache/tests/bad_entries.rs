//! L2 entries that pass the header check but must still not be served: a payload over this
//! instance's value limit (written by an instance with a larger one), and a valid entry with
//! bytes appended. Both are a counted corrupt miss and never reach L1. And a tier that
//! reports one key's entry as corrupt (Redis: `WRONGTYPE`) does not open the breaker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use async_trait::async_trait;
use common::hooked::{Call, Hooked, Hooks};
use common::{calls, counting_loader};
use perfstack_tiered_cache::{JsonCodec, MemoryStore, Tier, TierError, TieredCache};

#[tokio::test]
async fn an_entry_over_the_readers_value_limit_is_a_corrupt_miss_not_promoted() {
    let store = MemoryStore::new();
    let big = TieredCache::<String>::builder("size").tier(store.tier()).limits(512, 64 * 1024).build().await.unwrap();
    let small = TieredCache::<String>::builder("size").tier(store.tier()).limits(512, 1_000).build().await.unwrap();
    big.set("k", "x".repeat(10_000)).await.unwrap();

    assert_eq!(small.get("k").await.unwrap().map(|v| v.len()), None, "over the limit: a miss");
    small.run_pending_tasks().await;
    let s = small.stats();
    assert_eq!(s.l1_entries, 0, "an oversized entry was promoted into L1");
    assert_eq!(s.l2_corrupt, 1);
    assert_eq!(s.l2_hits, 0);
    assert_eq!(big.get("k").await.unwrap().map(|v| v.len()), Some(10_000), "within the writer's own limit");
}

#[tokio::test]
async fn a_valid_entry_with_trailing_bytes_is_a_corrupt_miss() {
    let store = MemoryStore::new();
    let raw = store.tier();
    let postcard = TieredCache::<String>::builder("trail").tier(store.tier()).build().await.unwrap();
    let json = TieredCache::<String>::builder("trail-json").tier(store.tier()).codec(JsonCodec).build().await.unwrap();
    for (cache, key) in [(&postcard, "p"), (&json, "j")] {
        cache.set(key, "v".into()).await.unwrap();
        let mut bytes = raw.get(key).await.unwrap().expect("written by the cache").to_vec();
        bytes.extend_from_slice(b"junk");
        raw.set(key, bytes.into(), Duration::from_secs(60)).await.unwrap();
        cache.forget_local(key).await;
        assert_eq!(cache.get(key).await.unwrap(), None, "{key}: trailing bytes were ignored");
        assert_eq!(cache.stats().l2_corrupt, 1, "{key}");
    }
}

/// Reports the entry of key `bad` as not a cache entry until it is written.
struct BadKey(std::sync::atomic::AtomicBool);

#[async_trait]
impl Hooks for BadKey {
    async fn before(&self, call: Call, key: &str) -> Result<(), TierError> {
        use std::sync::atomic::Ordering;
        match (call, key) {
            (Call::Get, "bad") if !self.0.load(Ordering::SeqCst) => {
                Err(TierError::Corrupt("WRONGTYPE Operation against a key holding the wrong kind of value".into()))
            }
            (Call::SetIfUnchanged | Call::Set, "bad") => {
                self.0.store(true, Ordering::SeqCst);
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[tokio::test]
async fn a_corrupt_answer_is_a_miss_and_a_breaker_success() {
    let store = MemoryStore::new();
    let (loader, n) = counting_loader(Duration::ZERO);
    let tier = Hooked::new(store.tier(), BadKey(Default::default()));
    let a = TieredCache::<String>::builder("corrupt")
        .tier(tier)
        .breaker(3, Duration::from_secs(60))
        .loader(loader)
        .build()
        .await
        .unwrap();
    let other = TieredCache::<String>::builder("corrupt").tier(store.tier()).build().await.unwrap();
    other.set("healthy", "h".into()).await.unwrap();
    for _ in 0..20 {
        assert_eq!(a.get("bad").await.unwrap(), None);
    }
    let s = a.stats();
    assert!(!s.breaker_open, "one bad key opened the breaker");
    assert_eq!((s.l2_corrupt, s.l2_errors, s.l2_misses), (20, 0, 20));
    assert_eq!(a.get("healthy").await.unwrap().as_deref(), Some("h"));
    assert_eq!(a.stats().l2_hits, 1);
    assert_eq!(a.get_or_load("bad").await.unwrap().as_deref(), Some("value:bad"));
    assert_eq!(calls(&n), 1);
    assert_eq!(other.get("bad").await.unwrap().as_deref(), Some("value:bad"), "the load overwrote it");
}
