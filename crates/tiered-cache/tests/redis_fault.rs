//! Redis killed mid-run under concurrent load: zero caller errors, the loader keeps serving;
//! Redis restarted: coherence between instances is back within 1 s.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod common;

use std::time::Duration;

use common::{calls, counting_loader, eventually, redis_client};
use perfstack_testkit::load::{Arrivals, OpenLoop};
use perfstack_tiered_cache::TieredCache;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_under_load_gives_zero_errors_and_coherence_returns_within_a_second() {
    let Some(_rk) = perfstack_testkit::require_redis().await else { return };
    let mut srv = perfstack_testkit::RedisServer::start().await.unwrap();
    let url = srv.url();
    let (loader_a, na) = counting_loader(Duration::from_millis(2));
    let (loader_b, nb) = counting_loader(Duration::from_millis(2));
    let build = |client, loader| {
        TieredCache::<String>::builder("fault")
            .namespace("fault:")
            .redis(client)
            .loader(loader)
            .ttl(Duration::from_secs(300))
            .l2_timeout(Duration::from_millis(100))
            .breaker(3, Duration::from_millis(200))
            .degraded_l1_ttl(Duration::from_millis(300))
            .build()
    };
    let a = build(redis_client(&url).await, loader_a).await.unwrap();
    let b = build(redis_client(&url).await, loader_b).await.unwrap();

    // B holds "x" in L1 from before the outage.
    a.set("x", "old".into()).await.unwrap();
    assert_eq!(b.get("x").await.unwrap().as_deref(), Some("old"));

    let (la, lb) = (a.clone(), b.clone());
    let load = tokio::spawn(async move {
        OpenLoop::new(1_500.0)
            .arrivals(Arrivals::Poisson { seed: 7 })
            .max_requests(4_500)
            .max_duration(Duration::from_secs(4))
            .run(move |i| {
                let c = if i % 2 == 0 { la.clone() } else { lb.clone() };
                async move {
                    let key = format!("k{}", i % 3_000);
                    match c.get_or_load(&key).await {
                        Ok(Some(v)) if v == format!("value:{key}") => Ok(()),
                        Ok(other) => Err(format!("wrong value {other:?}")),
                        Err(e) => Err(e.to_string()),
                    }
                }
            })
            .await
            .unwrap()
    });
    // Wait for observable progress, not for time: the load is running and both caches use L2.
    let warmed = eventually(Duration::from_secs(5), || async {
        let (sa, sb) = (a.stats(), b.stats());
        sa.loads + sb.loads >= 200 && sa.l2_writes > 0 && sb.l2_writes > 0
    })
    .await;
    assert!(warmed, "the load did not get going: {:?} {:?}", a.stats(), b.stats());
    srv.kill();
    // Both breakers open and keep refusing calls while the load goes on.
    let (skipped_a, skipped_b) = (a.stats().l2_skipped, b.stats().l2_skipped);
    let outage_seen = eventually(Duration::from_secs(5), || async {
        let (sa, sb) = (a.stats(), b.stats());
        sa.l2_skipped >= skipped_a + 50 && sb.l2_skipped >= skipped_b + 50
    })
    .await;
    let (sa, sb) = (a.stats(), b.stats());
    assert!(outage_seen && sa.l2_errors > 0 && sb.l2_errors > 0, "the breakers did not see the outage: {sa:?} {sb:?}");
    // During the outage a write lands in A's L1 only (short TTL); B still holds "old".
    a.set("x", "during".into()).await.unwrap();

    // Coherence: measured from the moment Redis is restarted, while the load keeps running.
    let restarted = tokio::time::Instant::now();
    srv.restart().await.unwrap();
    let up_after = restarted.elapsed();
    let coherent = eventually(Duration::from_secs(1).saturating_sub(restarted.elapsed()), || async {
        // Keep writing: a write goes to A's L1 only until A's breaker closes.
        let _ = a.set("x", "after".into()).await;
        b.get("x").await.unwrap().as_deref() == Some("after")
    })
    .await;
    let took = restarted.elapsed();
    assert!(
        coherent,
        "B still serves {:?} {took:?} after the restart (server up after {up_after:?})",
        b.get("x").await
    );
    assert!(took <= Duration::from_secs(1));
    eprintln!("coherent {took:?} after the restart began (server accepting after {up_after:?})");
    assert!(a.stats().l1_flushes >= 1 && b.stats().l1_flushes >= 1, "both breakers closed and flushed L1");

    let report = load.await.unwrap();
    assert_eq!(report.errors, 0, "callers saw errors caused by Redis: {report:?}");
    assert!(report.ok >= 4_000, "{report:?}");
    assert!(calls(&na) + calls(&nb) >= 300, "the loader served misses");
}
