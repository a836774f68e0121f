//! Redis killed mid-run under concurrent load: zero caller errors, the loader keeps serving;
//! Redis restarted: coherence between instances is back within 1 s.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

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
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    srv.kill();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (sa, sb) = (a.stats(), b.stats());
    assert!(sa.l2_errors + sb.l2_errors > 0 && sa.l2_skipped + sb.l2_skipped > 0, "the breaker saw the outage: {sa:?}");
    // During the outage a write lands in A's L1 only (short TTL).
    a.set("x", "during".into()).await.unwrap();
    srv.restart().await.unwrap();
    let report = load.await.unwrap();
    assert_eq!(report.errors, 0, "callers saw errors caused by Redis: {report:?}");
    assert!(report.ok >= 4_000, "{report:?}");
    assert!(calls(&na) + calls(&nb) >= 300, "the loader served misses");

    // Coherence: after the restart, A's write reaches B within 1 s.
    let restarted = tokio::time::Instant::now();
    a.set("x", "after".into()).await.unwrap();
    let coherent = eventually(Duration::from_secs(1), || async {
        // Keep writing: the first write may have gone to L1 only while the breaker was open.
        if a.stats().breaker_open {
            let _ = a.set("x", "after".into()).await;
        }
        b.get("x").await.unwrap().as_deref() == Some("after")
    })
    .await;
    assert!(coherent, "B still serves a stale value {:?} after {:?}", b.get("x").await, restarted.elapsed());
    assert!(a.stats().l1_flushes >= 1 && b.stats().l1_flushes >= 1);
}
