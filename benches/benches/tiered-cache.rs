//! perfstack-tiered-cache figures, each next to its baseline in the same run:
//! - L1 hit vs a raw moka `get` (goal ≤ 1.3×);
//! - L2 hit vs a raw fred GET, one connection each with the same settings (throughput ≥ 0.85×, p99 ≤ raw + 20 µs);
//! - (the expiry-storm simulation, in paused time, is `benches/sims/benches/tiered_cache_storm`);
//! - hit ratio on the ARC OLTP trace (or a Zipf fallback) next to Belady's optimum;
//! - the fault run: caller errors, stale reads after recovery and time to coherence with Redis
//!   killed, restarted and paused, for the docs' configuration and a tuned one.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

// The fault scenario the tiered cache's fault test asserts, reported here as figures.
#[path = "../../crates/tiered-cache/tests/common/fault_run.rs"]
mod fault_run;
#[path = "tiered-cache/faults.rs"]
mod faults;
#[path = "tiered-cache/propagation.rs"]
mod propagation;
#[path = "tiered-cache/trace.rs"]
mod trace;

use std::hint::black_box;
use std::time::{Duration, Instant};

use cached::ConcurrentCachedAsync;
use criterion::{criterion_group, Criterion, Throughput};
use fred::prelude::{Builder, ClientLike, Config, KeysInterface, ReconnectPolicy};
use perfstack_benches::{quick, record, Figure, Goal, Measure};
use perfstack_tiered_cache::TieredCache;
use propagation::{p99, propagation_p99};
use tokio::runtime::Runtime;

const KRATE: &str = "tiered-cache";

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn l1_hit(c: &mut Criterion) {
    let rt = current_thread();
    let keys: Vec<String> = (0..1_000).map(|i| format!("key:{i}")).collect();
    // The map L1 is built on, alone: quick_cache sized by weight as the cache sizes it.
    let qc: quick_cache::sync::Cache<String, String, BytesWeigher> =
        quick_cache::sync::Cache::with_weighter(64 << 10, 64 << 20, BytesWeigher);
    let (moka, cache) = rt.block_on(async {
        let moka: moka::future::Cache<String, String> = moka::future::Cache::builder().max_capacity(100_000).build();
        let cache = TieredCache::<String>::builder("bench-l1").build().await.unwrap();
        for k in &keys {
            moka.insert(k.clone(), "v".repeat(64)).await;
            qc.insert(k.clone(), "v".repeat(64));
            cache.set(k, "v".repeat(64)).await.unwrap();
        }
        (moka, cache)
    });
    let mut g = c.benchmark_group("tc_l1");
    g.throughput(Throughput::Elements(100));
    let mut at = 0usize;
    g.bench_function("moka_get", |b| {
        b.to_async(&rt).iter(|| {
            at = (at + 100) % keys.len();
            let (moka, keys) = (&moka, &keys);
            async move {
                for k in &keys[at..at + 100] {
                    black_box(moka.get(k).await);
                }
            }
        });
    });
    g.bench_function("quick_cache_get", |b| {
        b.to_async(&rt).iter(|| {
            at = (at + 100) % keys.len();
            let (qc, keys) = (&qc, &keys);
            async move {
                for k in &keys[at..at + 100] {
                    black_box(qc.get(k.as_str()));
                }
            }
        });
    });
    g.bench_function("tiered_get", |b| {
        b.to_async(&rt).iter(|| {
            at = (at + 100) % keys.len();
            let (cache, keys) = (&cache, &keys);
            async move {
                for k in &keys[at..at + 100] {
                    black_box(cache.get(k).await.unwrap());
                }
            }
        });
    });
    g.finish();
    record(&Figure {
        krate: KRATE.into(),
        figure: "L1 hit (100 gets, 64-byte String values) vs raw moka `get`".into(),
        unit: "ns".into(),
        value: Measure::Criterion("tc_l1/tiered_get".into()),
        baseline: Some(Measure::Criterion("tc_l1/moka_get".into())),
        goal: Goal::RatioAtMost(1.3),
        note: "same keys, same value type; the cache adds a deadline check, counters, hot-key sampling".into(),
    });
    record(&Figure {
        krate: KRATE.into(),
        figure: "L1 hit vs a raw get from the map L1 is built on (quick_cache, sized by weight)".into(),
        unit: "ns".into(),
        value: Measure::Criterion("tc_l1/tiered_get".into()),
        baseline: Some(Measure::Criterion("tc_l1/quick_cache_get".into())),
        goal: Goal::Info,
        note: "isolates the wrapper's own cost (deadline check, counters, hot-key sampling, the trust check) from the map's".into(),
    });
}

#[derive(Clone)]
struct BytesWeigher;

impl quick_cache::Weighter<String, String> for BytesWeigher {
    fn weight(&self, k: &String, v: &String) -> u64 {
        (k.len() + v.len() + 96) as u64
    }
}

fn l2_hit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let Some(rk) = rt.block_on(perfstack_testkit::require_redis()) else { return };
    let n_keys = 4_096;
    let keys: Vec<String> = (0..n_keys).map(|i| format!("k{i}")).collect();
    let (client, cache, small) = rt.block_on(async {
        // RESP2: the cache's own connections speak it whatever the client given to it says
        // (decision 0049), so the raw GET and the cache's GET parse the same replies. With a
        // RESP3 raw client the baseline would pay for a protocol the cache does not use.
        let mut cfg = Config::from_url(rk.url()).unwrap();
        cfg.version = fred::types::RespVersion::RESP2;
        let client = Builder::from_config(cfg).set_policy(ReconnectPolicy::new_constant(0, 50)).build().unwrap();
        client.init().await.unwrap();
        let cache = TieredCache::<String>::builder("bench-l2")
            .namespace(rk.prefix())
            .redis(client.clone())
            .build()
            .await
            .unwrap();
        for k in &keys {
            cache.set(k, "v".repeat(100)).await.unwrap();
        }
        // A 4 KiB L1 is always full: every L2 hit's promotion evicts another entry.
        let small = TieredCache::<String>::builder("bench-l2")
            .namespace(rk.prefix())
            .redis(client.clone())
            .l1_max_bytes(4 * 1024)
            .build()
            .await
            .unwrap();
        (client, cache, small)
    });
    let raw_keys: Vec<String> = keys.iter().map(|k| format!("{}v:{k}", rk.prefix())).collect();
    // The peer a Rust user picks today: `cached`'s async Redis store (Redis only, no L1).
    let peer = rt.block_on(async {
        let peer: Option<cached::AsyncRedisCache<String, String>> =
            cached::AsyncRedisCache::builder(format!("{}cached:", rk.prefix()))
                .ttl(Duration::from_secs(300))
                .connection_string(rk.url())
                .connection_manager(true)
                .build()
                .await
                .map_err(|e| eprintln!("cached peer unavailable: {e}"))
                .ok();
        if let Some(p) = &peer {
            for k in &keys {
                p.async_cache_set(k.clone(), "v".repeat(100)).await.unwrap();
            }
        }
        peer
    });
    let mut g = c.benchmark_group("tc_l2");
    g.throughput(Throughput::Elements(16));
    let mut at = 0usize;
    g.bench_function("fred_get", |b| {
        b.to_async(&rt).iter(|| {
            at = (at + 16) % n_keys;
            let (client, raw_keys) = (&client, &raw_keys);
            async move {
                let gets = raw_keys[at..at + 16].iter().map(|k| client.get::<Option<bytes::Bytes>, _>(k));
                for r in futures::future::join_all(gets).await {
                    black_box(r.unwrap());
                }
            }
        });
    });
    if let Some(peer) = &peer {
        g.bench_function("cached_redis_get", |b| {
            b.to_async(&rt).iter(|| {
                at = (at + 16) % n_keys;
                let keys = &keys;
                async move {
                    let gets = keys[at..at + 16].iter().map(|k| peer.async_cache_get(k));
                    for r in futures::future::join_all(gets).await {
                        black_box(r.unwrap());
                    }
                }
            });
        });
    }
    g.bench_function("tiered_get", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (cache, keys) = (&cache, &keys);
            async move {
                let mut timed = Duration::ZERO;
                for i in 0..iters as usize {
                    let at = (i * 16) % n_keys;
                    // Outside the timing: drop the 16 keys from this instance's L1 so they come from L2.
                    for k in &keys[at..at + 16] {
                        cache.forget_local(k).await;
                    }
                    let t = Instant::now();
                    let gets = keys[at..at + 16].iter().map(|k| cache.get(k));
                    for r in futures::future::join_all(gets).await {
                        black_box(r.unwrap());
                    }
                    timed += t.elapsed();
                }
                timed
            }
        });
    });
    g.bench_function("tiered_get_l1_full", |b| {
        b.to_async(&rt).iter(|| {
            at = (at + 16) % n_keys;
            let (cache, keys) = (&small, &keys);
            async move {
                let gets = keys[at..at + 16].iter().map(|k| cache.get(k));
                for r in futures::future::join_all(gets).await {
                    black_box(r.unwrap());
                }
            }
        });
    });
    g.finish();

    // p99 of sequential single gets, interleaved so noise hits both alike.
    let samples = if quick() { 10_000 } else { 20_000 };
    let (raw_p99, tiered_p99, forgot_p99) = rt.block_on(async {
        let (mut raw, mut tiered, mut forgot) =
            (Vec::with_capacity(samples), Vec::with_capacity(samples), Vec::with_capacity(samples));
        for i in 0..samples {
            let k = i % n_keys;
            let t = Instant::now();
            black_box(client.get::<Option<bytes::Bytes>, _>(&raw_keys[k]).await.unwrap());
            raw.push(t.elapsed());
            let t = Instant::now();
            black_box(small.get(&keys[(k + 13) % n_keys]).await.unwrap());
            tiered.push(t.elapsed());
            cache.forget_local(&keys[(k + 7) % n_keys]).await;
            let t = Instant::now();
            black_box(cache.get(&keys[(k + 7) % n_keys]).await.unwrap());
            forgot.push(t.elapsed());
        }
        (p99(&mut raw), p99(&mut tiered), p99(&mut forgot))
    });
    // Throughput interleaved batch by batch (the order of the sides rotates), so the noise of
    // this shared 2-core machine hits every side alike; criterion's groups above run apart.
    // Sides: raw fred GET; the cache whose L1 is smaller than the key set (an L2 hit because
    // the key was evicted: the steady state of a working set larger than L1, each promotion
    // evicting another entry); the cache whose L1 entries are dropped with `forget_local`
    // before each round (outside the timing).
    let rounds = if quick() { 3_000 } else { 20_000 };
    let small_before = small.stats();
    let (raw_rate, evicted_rate, forgot_rate) = rt.block_on(async {
        let mut t_side = [Duration::ZERO; 3];
        for i in 0..rounds {
            let at = (i * 16) % n_keys;
            for k in &keys[at..at + 16] {
                cache.forget_local(k).await;
            }
            for j in 0..3 {
                let side = (i + j) % 3;
                let t = Instant::now();
                match side {
                    0 => {
                        let gets = raw_keys[at..at + 16].iter().map(|k| client.get::<Option<bytes::Bytes>, _>(k));
                        for r in futures::future::join_all(gets).await {
                            black_box(r.unwrap());
                        }
                    }
                    1 => {
                        for r in futures::future::join_all(keys[at..at + 16].iter().map(|k| small.get(k))).await {
                            black_box(r.unwrap());
                        }
                    }
                    _ => {
                        for r in futures::future::join_all(keys[at..at + 16].iter().map(|k| cache.get(k))).await {
                            black_box(r.unwrap());
                        }
                    }
                }
                t_side[side] += t.elapsed();
            }
        }
        let ops = (rounds * 16) as f64;
        (ops / t_side[0].as_secs_f64(), ops / t_side[1].as_secs_f64(), ops / t_side[2].as_secs_f64())
    });
    let small_after = small.stats();
    let small_l1_hits = small_after.l1_hits - small_before.l1_hits;
    let small_l2_hits = small_after.l2_hits - small_before.l2_hits;
    let stats = cache.stats();
    // Its own single-threaded runtime: both instances, their connections and the timing loop
    // share one thread, so no cross-thread wake-up adds to what is measured.
    let propagation = current_thread().block_on(async {
        let mut cfg = Config::from_url(rk.url()).ok()?;
        cfg.version = fred::types::RespVersion::RESP3;
        let a = TieredCache::<String>::builder("bench-l2")
            .namespace(rk.prefix())
            .redis(Builder::from_config(cfg).build().ok()?)
            .build()
            .await
            .ok()?;
        propagation_p99(rk.url(), rk.prefix(), &a).await
    });
    rt.block_on(async {
        drop(cache);
        drop(small);
        let _ = client.quit().await;
    });
    drop(rk);
    record(&Figure {
        krate: KRATE.into(),
        figure: "L2 hit throughput, key evicted from L1 (16 in flight) vs raw `fred` GET".into(),
        unit: "ops/s".into(),
        value: Measure::Value(evicted_rate),
        baseline: Some(Measure::Value(raw_rate)),
        goal: Goal::RatioAtLeast(0.85),
        note: format!(
            "keys evicted from a 4 KiB L1 (a working set larger than L1: every promotion evicts another entry; {small_l2_hits} L2 hits, {small_l1_hits} L1 hits); {rounds} rounds of one 16-GET batch per side, the order of the sides rotating; the cache decodes the header + postcard and promotes into L1"
        ),
    });
    record(&Figure {
        krate: KRATE.into(),
        figure: "L2 hit throughput after `forget_local` (16 in flight) vs raw `fred` GET".into(),
        unit: "ops/s".into(),
        value: Measure::Value(forgot_rate),
        baseline: Some(Measure::Value(raw_rate)),
        goal: Goal::RatioAtLeast(0.85),
        note: "same interleaved run; the keys are dropped from a 64 MiB L1 before each round (outside the timing), as in earlier runs of this figure".into(),
    });
    record(&Figure {
        krate: KRATE.into(),
        figure: "L2 hit throughput after `forget_local` vs raw `fred` GET, criterion groups run apart".into(),
        unit: "ops/s".into(),
        value: Measure::CriterionRate { id: "tc_l2/tiered_get".into(), elements: 16 },
        baseline: Some(Measure::CriterionRate { id: "tc_l2/fred_get".into(), elements: 16 }),
        goal: Goal::Info,
        note: format!(
            "same keys, one connection each with the same fred settings, RESP2 (the cache opens its own from the client given to it); the cache also decodes the header + postcard and promotes into L1 (keys dropped from L1 before each batch, outside the timing; L1 hit rate {:.1} %)",
            100.0 * stats.l1_hits as f64 / (stats.l1_hits + stats.l2_hits).max(1) as f64
        ),
    });
    record(&Figure {
        krate: KRATE.into(),
        figure: "L2 hit throughput with L1 full (every promotion evicts) vs raw `fred` GET, criterion groups run apart"
            .into(),
        unit: "ops/s".into(),
        value: Measure::CriterionRate { id: "tc_l2/tiered_get_l1_full".into(), elements: 16 },
        baseline: Some(Measure::CriterionRate { id: "tc_l2/fred_get".into(), elements: 16 }),
        goal: Goal::Info,
        note: "4 KiB L1: shows what an insert with eviction adds to an L2 hit".into(),
    });
    record(&Figure {
        krate: KRATE.into(),
        figure: "L2 hit p99, key evicted from L1, minus raw `fred` GET p99 (sequential)".into(),
        unit: "µs".into(),
        value: Measure::Value((tiered_p99 - raw_p99) * 1e6),
        baseline: None,
        goal: Goal::AtMost(20.0),
        note: format!(
            "keys evicted from a 4 KiB L1, as in the throughput row; raw p99 {:.1} µs, cache p99 {:.1} µs, {samples} samples each, interleaved",
            raw_p99 * 1e6,
            tiered_p99 * 1e6
        ),
    });
    record(&Figure {
        krate: KRATE.into(),
        figure: "L2 hit p99 after `forget_local` minus raw `fred` GET p99 (sequential)".into(),
        unit: "µs".into(),
        value: Measure::Value((forgot_p99 - raw_p99) * 1e6),
        baseline: None,
        goal: Goal::AtMost(20.0),
        note: format!("same interleaved run; cache p99 {:.1} µs", forgot_p99 * 1e6),
    });
    if peer.is_some() {
        record(&Figure {
            krate: KRATE.into(),
            figure: "L2 hit throughput vs the `cached` crate's AsyncRedisCache (16 in flight)".into(),
            unit: "ops/s".into(),
            value: Measure::CriterionRate { id: "tc_l2/tiered_get".into(), elements: 16 },
            baseline: Some(Measure::CriterionRate { id: "tc_l2/cached_redis_get".into(), elements: 16 }),
            goal: Goal::Info,
            note: "same keys and values; `cached` uses its own redis-rs connection manager (MessagePack values, no L1)"
                .into(),
        });
    }
    if let Some((p99_s, rounds)) = propagation {
        record(&Figure {
            krate: KRATE.into(),
            figure: "invalidation propagation p99 between two instances (loopback)".into(),
            unit: "ms".into(),
            value: Measure::Value(p99_s * 1e3),
            baseline: None,
            goal: Goal::AtMost(2.0),
            note: format!("{rounds} writes on A; timed from the start of A's SET to B's L1 invalidation; both instances on one current-thread runtime"),
        });
    }
}

fn oltp_trace(_c: &mut Criterion) {
    if let Some(md) = trace::run_full_stack(quick()) {
        let _ = perfstack_benches::write_section(KRATE, "31-trace-full-stack", &md);
    } else {
        eprintln!("tiered-cache: full-stack trace replay skipped (PostgreSQL or Redis unavailable)");
    }
    if let Some(r) = trace::run(quick()) {
        let _ = perfstack_benches::write_section(KRATE, "30-trace", &r.markdown());
        record(&Figure {
            krate: KRATE.into(),
            figure: format!("L1 hit ratio on {} vs Belady's optimum (same capacity)", r.source),
            unit: "ratio".into(),
            value: Measure::Value(r.hit_ratio),
            baseline: Some(Measure::Value(r.belady)),
            goal: Goal::Info,
            note: format!("{} requests, {} loader calls; {}", r.requests, r.loads, r.l1.note(r.capacity)),
        });
    }
}

criterion_group!(benches, l1_hit, l2_hit, oltp_trace);

fn main() {
    benches();
    faults::fault_rows();
    Criterion::default().configure_from_args().final_summary();
}
