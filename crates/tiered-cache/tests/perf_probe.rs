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
    let keys: Vec<String> = (0..4096).map(|i| format!("k{i}")).collect();
    for k in &keys {
        cache.set(k, "v".repeat(100)).await.unwrap();
        mem.set(k, "v".repeat(100)).await.unwrap();
    }
    let raw: Vec<String> = keys.iter().map(|k| format!("{}v:{k}", rk.prefix())).collect();
    for round in 0..3 {
        let (mut raw_t, mut tiered, mut memt) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        for b in 0..256 {
            let at = b * 16;
            let t = Instant::now();
            let gets = raw[at..at + 16].iter().map(|k| client.get::<Option<bytes::Bytes>, _>(k));
            futures::future::join_all(gets).await;
            raw_t += t.elapsed();
            for k in &keys[at..at + 16] {
                cache.forget_local(k).await;
                mem.forget_local(k).await;
            }
            let t = Instant::now();
            futures::future::join_all(keys[at..at + 16].iter().map(|k| cache.get(k))).await;
            tiered += t.elapsed();
            let t = Instant::now();
            futures::future::join_all(keys[at..at + 16].iter().map(|k| mem.get(k))).await;
            memt += t.elapsed();
        }
        println!(
            "round {round}: per batch of 16: raw {:?}, tiered {:?}, memory tier {:?}",
            raw_t / 256,
            tiered / 256,
            memt / 256
        );
    }
}
