#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The breaker around a real Redis that dies and comes back (a private `redis-server` owned by
//! the test): it opens while Redis is down, refuses fast, and half-open probes close it once
//! Redis answers again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fred::prelude::*;
use perfstack_resilience::{CircuitBreaker, Error, State, Timeout};

async fn ping(
    breaker: &CircuitBreaker,
    timeout: &Timeout,
    client: &Client,
) -> Result<String, Error<Error<fred::error::Error>>> {
    breaker.call(timeout.call(client.ping::<String>(None))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_opens_on_a_dead_redis_and_recovers() {
    let Some(_shared) = perfstack_testkit::require_redis().await else { return };
    let mut srv = perfstack_testkit::RedisServer::start().await.unwrap();
    let config = Config::from_url(&srv.url()).unwrap();
    let client = Builder::from_config(config).set_policy(ReconnectPolicy::new_constant(0, 50)).build().unwrap();
    client.init().await.unwrap();

    let breaker = CircuitBreaker::builder("redis-fault")
        .count_window(10)
        .minimum_calls(5)
        .wait_in_open(Duration::from_secs(1))
        .half_open_probes(2)
        .build()
        .unwrap();
    let timeout = Timeout::new(Duration::from_millis(200)).unwrap();

    for _ in 0..10 {
        assert_eq!(ping(&breaker, &timeout, &client).await.unwrap(), "PONG");
    }
    assert_eq!(breaker.state(), State::Closed);

    srv.kill();
    let mut calls = 0;
    while breaker.state() != State::Open && calls < 50 {
        let _ = ping(&breaker, &timeout, &client).await;
        calls += 1;
    }
    assert_eq!(breaker.state(), State::Open, "still closed after {calls} calls to a dead Redis");
    // Open: refused without trying Redis (the guarded future is never polled), with the time
    // left before a probe. How fast a refusal is belongs to the benches, not to this test.
    let tried = AtomicBool::new(false);
    let guarded = async {
        tried.store(true, Ordering::SeqCst);
        timeout.call(client.ping::<String>(None)).await
    };
    let refused = breaker.call(guarded).await;
    assert!(matches!(refused, Err(Error::CircuitOpen { retry_after: Some(_), .. })), "{refused:?}");
    assert!(!tried.load(Ordering::SeqCst), "an open breaker sent the call to Redis");

    srv.restart().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while breaker.state() != State::Closed && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = ping(&breaker, &timeout, &client).await;
    }
    assert_eq!(breaker.state(), State::Closed, "did not recover: {:?}", breaker.stats());
    assert_eq!(ping(&breaker, &timeout, &client).await.unwrap(), "PONG");
    let _ = client.quit().await;
}
