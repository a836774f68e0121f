#![cfg(feature = "tower")]
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Tower layers: every clone of a layer and of its services shares one state.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use perfstack_resilience::backoff::Constant;
use perfstack_resilience::tower::{BreakerLayer, BulkheadLayer, RetryLayer, TimeoutLayer};
use perfstack_resilience::{Bulkhead, CircuitBreaker, Error, ManualClock, Outcome, Retry, RetryBudget, State, Timeout};
use tower::{Layer, Service, ServiceExt};

fn failing(
) -> impl Service<u32, Response = u32, Error = &'static str, Future = std::future::Ready<Result<u32, &'static str>>> + Clone
{
    tower::service_fn(|_x: u32| std::future::ready(Err("down")))
}

/// Regression: layer clones and service clones must not each get their own breaker.
#[tokio::test]
async fn breaker_state_is_shared_by_every_clone() {
    let breaker =
        CircuitBreaker::builder("shared").count_window(4).minimum_calls(4).clock(ManualClock::new()).build().unwrap();
    let layer = BreakerLayer::new(breaker.clone());
    let layer2 = layer.clone();
    let a = layer.layer(failing());
    let b = layer2.layer(failing());
    let c = a.clone();
    for svc in [a.clone(), b.clone(), c.clone(), a.clone()] {
        let _ = svc.oneshot(1).await;
    }
    assert_eq!(breaker.state(), State::Open);
    for svc in [a, b, c] {
        assert!(matches!(svc.oneshot(1).await, Err(Error::CircuitOpen { .. })));
    }
}

#[tokio::test]
async fn breaker_layer_uses_the_classifier() {
    let breaker = CircuitBreaker::builder("cls").count_window(4).minimum_calls(4).build().unwrap();
    // "4xx" answers are not failures.
    let layer = BreakerLayer::new(breaker.clone()).with_classifier(|r: &Result<u16, &str>| match r {
        Ok(s) if *s >= 500 => Outcome::Failure,
        Ok(s) if *s >= 400 => Outcome::Ignore,
        Ok(_) => Outcome::Success,
        Err(_) => Outcome::Failure,
    });
    let svc = layer.layer(tower::service_fn(|s: u16| std::future::ready(Ok::<_, &str>(s))));
    for _ in 0..10 {
        let _ = svc.clone().oneshot(404).await;
    }
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.stats().window_calls, 0);
    for _ in 0..4 {
        let _ = svc.clone().oneshot(503).await;
    }
    assert_eq!(breaker.state(), State::Open);
}

/// Regression: a "max 1 concurrent" bulkhead allows 1 across all clones, not 1 per clone.
#[tokio::test]
async fn bulkhead_cap_is_shared_by_every_clone() {
    let bulkhead = Bulkhead::builder("b").max_concurrent(1).build().unwrap();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let g = gate.clone();
    let slow = tower::service_fn(move |_x: u32| {
        let g = g.clone();
        async move {
            let _p = g.acquire().await.unwrap();
            Ok::<_, &str>(1)
        }
    });
    let layer = BulkheadLayer::new(bulkhead.clone());
    let a = layer.clone().layer(slow.clone());
    let b = layer.layer(slow);
    let first = tokio::spawn(a.clone().oneshot(1));
    while bulkhead.stats().in_flight == 0 {
        tokio::task::yield_now().await;
    }
    assert!(matches!(b.clone().oneshot(2).await, Err(Error::BulkheadFull { .. })));
    assert!(matches!(a.oneshot(3).await, Err(Error::BulkheadFull { .. })));
    gate.add_permits(10);
    assert_eq!(first.await.unwrap().unwrap(), 1);
    assert_eq!(b.oneshot(4).await.unwrap(), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_layer_retries_and_shares_its_budget() {
    let budget = RetryBudget::builder().ratio(0.5).min_per_second(0).build().unwrap();
    let retry = Retry::builder("r")
        .max_attempts(3)
        .backoff(Constant::new(Duration::from_millis(1)))
        .budget(budget.clone())
        .build()
        .unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let svc = tower::service_fn(move |_x: u32| {
        c.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Err::<u32, _>("down"))
    });
    let layer = RetryLayer::new(retry);
    let a = layer.clone().layer(svc.clone());
    let b = layer.layer(svc);
    for i in 0..10 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        let _ = s.oneshot(1).await;
    }
    // 10 requests, 50 % budget shared across clones: 5 retries in total, not 5 per clone.
    assert_eq!(calls.load(Ordering::SeqCst), 15);
    assert_eq!(budget.stats().withdrawals, 5);
}

#[tokio::test(start_paused = true)]
async fn timeout_layer_times_out() {
    let svc =
        TimeoutLayer::new(Timeout::new(Duration::from_millis(10)).unwrap()).layer(tower::service_fn(|_x: u32| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, ()>(1)
        }));
    assert!(matches!(svc.oneshot(1).await, Err(Error::Timeout(_))));
}

#[tokio::test]
async fn throttle_layer_state_is_shared_by_every_clone() {
    use perfstack_resilience::tower::ThrottleLayer;
    use perfstack_resilience::AdaptiveThrottle;
    let throttle = AdaptiveThrottle::builder().clock(ManualClock::new()).build().unwrap();
    let layer = ThrottleLayer::new(throttle.clone());
    let a = layer.clone().layer(failing());
    let b = layer.layer(failing());
    let mut throttled = 0;
    for i in 0..400 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        if matches!(s.oneshot(1).await, Err(Error::Throttled)) {
            throttled += 1;
        }
    }
    // Both clones feed one window: the backend rejects everything, so most calls stay local.
    assert!(throttled > 300, "throttled {throttled} of 400");
    assert_eq!(throttle.stats().throttled, throttled);
}

#[tokio::test(start_paused = true)]
async fn hedge_layer_sends_a_backup_to_a_clone() {
    use perfstack_resilience::tower::HedgeLayer;
    use perfstack_resilience::{Hedge, HedgeDelay};
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let svc = tower::service_fn(move |x: u32| {
        let n = c.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::time::sleep(Duration::from_millis(if n == 0 { 1_000 } else { 5 })).await;
            Ok::<_, ()>(x + n)
        }
    });
    let hedge = Hedge::builder(HedgeDelay::Fixed { delay: Duration::from_millis(10) }).build().unwrap();
    let s = HedgeLayer::new(hedge.clone()).layer(svc);
    let t0 = tokio::time::Instant::now();
    assert_eq!(s.oneshot(10).await.unwrap(), 11, "the backup (second call) answered");
    assert_eq!(t0.elapsed(), Duration::from_millis(15));
    assert_eq!(hedge.stats().backups, 1);
}

/// A service that fails its first `fail_first` calls, and whose readiness check fails after
/// the first one when `refuse_after_first` is set; counts both across clones.
#[derive(Clone)]
struct Flaky {
    ready_checks: Arc<AtomicU32>,
    calls: Arc<AtomicU32>,
    fail_first: u32,
    refuse_after_first: bool,
}

impl Flaky {
    fn new(fail_first: u32, refuse_after_first: bool) -> Self {
        Self { ready_checks: Arc::default(), calls: Arc::default(), fail_first, refuse_after_first }
    }
}

impl Service<u32> for Flaky {
    type Response = u32;
    type Error = &'static str;
    type Future = std::future::Ready<Result<u32, &'static str>>;

    fn poll_ready(&mut self, _cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        let n = self.ready_checks.fetch_add(1, Ordering::SeqCst);
        std::task::Poll::Ready(if self.refuse_after_first && n >= 1 { Err("not ready") } else { Ok(()) })
    }

    fn call(&mut self, x: u32) -> Self::Future {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(if n < self.fail_first { Err("down") } else { Ok(x + n) })
    }
}

#[tokio::test(start_paused = true)]
async fn retry_layer_backs_off_and_retries_on_fresh_clones_polled_ready() {
    let retry = Retry::builder("r").max_attempts(5).backoff(Constant::new(Duration::from_millis(10))).build().unwrap();
    let flaky = Flaky::new(2, false);
    let svc = RetryLayer::new(retry.clone()).layer(flaky.clone());
    let t0 = tokio::time::Instant::now();
    assert_eq!(svc.oneshot(1).await, Ok(3), "the third call answered");
    assert_eq!(t0.elapsed(), Duration::from_millis(20), "two backoffs of 10 ms");
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);
    assert_eq!(flaky.ready_checks.load(Ordering::SeqCst), 3, "oneshot's check, then one per retry");
    assert_eq!(retry.stats().retries, 2);
}

#[tokio::test(start_paused = true)]
async fn retry_layer_counts_a_readiness_error_as_a_failed_attempt() {
    let retry = Retry::builder("r").max_attempts(3).backoff(Constant::new(Duration::from_millis(1))).build().unwrap();
    let flaky = Flaky::new(u32::MAX, true);
    let svc = RetryLayer::new(retry.clone()).layer(flaky.clone());
    assert_eq!(svc.oneshot(1).await, Err("not ready"), "the last attempt's error");
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 1, "the retries never reached call");
    assert_eq!(retry.stats().retries, 2);
}

#[test]
fn layers_services_and_futures_are_send_and_sync() {
    use perfstack_resilience::tower::{self as mw, HedgeLayer, ThrottleLayer};
    fn send_sync<T: Send + Sync>() {}
    type Svc = tower::util::BoxCloneSyncService<u32, u32, &'static str>;
    type SvcFuture = <Svc as Service<u32>>::Future;
    send_sync::<BreakerLayer>();
    send_sync::<BulkheadLayer>();
    send_sync::<HedgeLayer>();
    send_sync::<RetryLayer>();
    send_sync::<ThrottleLayer>();
    send_sync::<TimeoutLayer>();
    send_sync::<mw::Breaker<Svc>>();
    send_sync::<mw::Bulkhead<Svc>>();
    send_sync::<mw::Hedge<Svc>>();
    send_sync::<mw::Retry<Svc>>();
    send_sync::<mw::Throttle<Svc>>();
    send_sync::<mw::Timeout<Svc>>();
    fn send<T: Send>() {}
    send::<mw::breaker::future::ResponseFuture<SvcFuture, perfstack_resilience::ErrIsFailure>>();
    send::<mw::bulkhead::future::ResponseFuture<SvcFuture, u32, &'static str>>();
    send::<mw::hedge::future::ResponseFuture<u32, &'static str>>();
    send::<mw::retry::future::ResponseFuture<Svc, u32>>();
    send::<mw::throttle::future::ResponseFuture<SvcFuture>>();
    send::<mw::timeout::future::ResponseFuture<SvcFuture>>();
}
