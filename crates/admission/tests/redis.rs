//! Distributed GCRA in Redis: two instances share one limit; fail open / closed.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use fred::prelude::*;
use perfstack_admission::redis::{FailPolicy, RedisRateError, RedisRateLimit};

async fn client(url: &str) -> Client {
    let c = Client::new(Config::from_url(url).unwrap(), None, None, None);
    c.init().await.unwrap();
    c
}

async fn hammer(limit: RedisRateLimit, until: Instant) -> u64 {
    let mut ok = 0;
    while Instant::now() < until {
        if limit.check().await.is_ok() {
            ok += 1;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_limit_within_five_percent() {
    let Some(rk) = perfstack_testkit::require_redis().await else { return };
    let key = rk.key("gcra");
    let (rate, burst) = (200.0, 10);
    let a = RedisRateLimit::builder(client(rk.url()).await, key.clone(), rate, burst).build().await.unwrap();
    let b = RedisRateLimit::builder(client(rk.url()).await, key, rate, burst).build().await.unwrap();
    let start = Instant::now();
    let until = start + Duration::from_secs(3);
    let (x, y) = tokio::join!(tokio::spawn(hammer(a, until)), tokio::spawn(hammer(b, until)));
    let admitted = (x.unwrap() + y.unwrap()) as f64;
    let expected = burst as f64 + rate * start.elapsed().as_secs_f64();
    assert!((admitted - expected).abs() <= 0.05 * expected, "admitted {admitted}, expected {expected:.0}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_keep_the_combined_rate_and_save_round_trips() {
    let Some(rk) = perfstack_testkit::require_redis().await else { return };
    let key = rk.key("gcra-lease");
    let (rate, burst) = (400.0, 40);
    let a =
        RedisRateLimit::builder(client(rk.url()).await, key.clone(), rate, burst).lease_cells(4).build().await.unwrap();
    let b = RedisRateLimit::builder(client(rk.url()).await, key, rate, burst).lease_cells(4).build().await.unwrap();
    let start = Instant::now();
    let until = start + Duration::from_secs(3);
    let (x, y) = tokio::join!(tokio::spawn(hammer(a, until)), tokio::spawn(hammer(b, until)));
    let admitted = (x.unwrap() + y.unwrap()) as f64;
    let expected = burst as f64 + rate * start.elapsed().as_secs_f64();
    // Cells are charged in Redis before use, and unused ones are given back: within ±5 % too.
    assert!((admitted - expected).abs() <= 0.05 * expected, "admitted {admitted}, expected {expected:.0}");
}

/// The local pre-check: traffic clearly under the limit does not pay a round trip on
/// every request with the default settings (a lease sized from the burst and the instance hint).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearly_allowed_traffic_skips_most_round_trips_by_default() {
    let Some(rk) = perfstack_testkit::require_redis().await else { return };
    let key = rk.key("gcra-light");
    // 1,000/s with a burst of 100 shared by 2 instances: a lease of 25 cells.
    let limit = RedisRateLimit::builder(client(rk.url()).await, key, 1000.0, 100).build().await.unwrap();
    assert_eq!(limit.lease_cells(), 25);
    let checks = 200;
    for _ in 0..checks {
        limit.check().await.unwrap(); // 500/s: clearly allowed
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let trips = limit.round_trips();
    assert!(trips * 4 <= checks, "{trips} round trips for {checks} allowed checks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fails_open_or_closed_as_configured() {
    let Some(_rk) = perfstack_testkit::require_redis().await else { return };
    let mut srv = perfstack_testkit::RedisServer::start().await.unwrap();
    let url = srv.url();
    let open = RedisRateLimit::builder(client(&url).await, "pstest:fail", 100.0, 10).build().await.unwrap();
    let closed = RedisRateLimit::builder(client(&url).await, "pstest:fail", 100.0, 10)
        .fail_policy(FailPolicy::Closed)
        .timeout(Duration::from_millis(200))
        .lease_cells(1) // no lease: the next check asks Redis (a leased cell would be local)
        .build()
        .await
        .unwrap();
    assert!(closed.check().await.is_ok());
    srv.kill();
    assert!(open.check().await.is_ok(), "fail open admits");
    let err = closed.check().await.unwrap_err();
    assert!(matches!(err, RedisRateError::Unavailable(_) | RedisRateError::Timeout(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_checks_the_redis_limit_in_acquire() {
    let Some(rk) = perfstack_testkit::require_redis().await else { return };
    let redis = RedisRateLimit::builder(client(rk.url()).await, rk.key("ctl"), 1.0, 2).build().await.unwrap();
    let ctl =
        perfstack_admission::AdmissionController::builder().fixed_limit(10).rate_limit_store(redis).build().unwrap();
    let meta = perfstack_admission::RequestMeta::new(perfstack_admission::Priority::Normal);
    let _a = ctl.acquire(&meta).await.unwrap();
    let _b = ctl.acquire_now(&meta).await.unwrap();
    let e = ctl.acquire(&meta).await.unwrap_err();
    assert_eq!(e.reason, perfstack_admission::RejectReason::Rate);
}
