//! Manual probe (ignored): where does an L2 hit spend its time?
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::time::{Duration, Instant};

use fred::interfaces::KeysInterface;
use perfstack_tiered_cache::{MemoryStore, TieredCache};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "manual timing probe"]
async fn probe() {
    let Some(rk) = perfstack_testkit::require_redis().await else { return };
    let client = common::redis_client(rk.url()).await;
    let cache =
        TieredCache::<String>::builder("probe").namespace(rk.prefix()).redis(client.clone()).build().await.unwrap();
    let mem = TieredCache::<String>::builder("probe").tier(MemoryStore::new().tier()).build().await.unwrap();
    let keys: Vec<String> = (0..1000).map(|i| format!("k{i}")).collect();
    for k in &keys {
        cache.set(k, "v".repeat(100)).await.unwrap();
        mem.set(k, "v".repeat(100)).await.unwrap();
    }
    let raw: Vec<String> = keys.iter().map(|k| format!("{}v:{k}", rk.prefix())).collect();
    for round in 0..3 {
        let t = Instant::now();
        for k in &raw {
            let _: Option<bytes::Bytes> = client.get(k).await.unwrap();
        }
        let raw_t = t.elapsed();
        let mut tiered = Duration::ZERO;
        for k in &keys {
            cache.forget_local(k).await;
            let t = Instant::now();
            cache.get(k).await.unwrap();
            tiered += t.elapsed();
        }
        let mut memt = Duration::ZERO;
        for k in &keys {
            mem.forget_local(k).await;
            let t = Instant::now();
            mem.get(k).await.unwrap();
            memt += t.elapsed();
        }
        let mut l1 = Duration::ZERO;
        for k in &keys {
            let t = Instant::now();
            cache.get(k).await.unwrap();
            l1 += t.elapsed();
        }
        println!(
            "round {round}: raw {:?}/op, tiered L2 {:?}/op, memory-tier L2 {:?}/op, L1 {:?}/op, stats {:?}",
            raw_t / 1000,
            tiered / 1000,
            memt / 1000,
            l1 / 1000,
            cache.stats().l2_hits
        );
    }
}
