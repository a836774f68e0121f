#![cfg(feature = "tower")]
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The fallback as a tower layer: which errors it answers, and that it shares state.

use std::future::ready;
use std::time::Duration;

use perfstack_resilience::tower::{BreakerLayer, BulkheadLayer, FallbackLayer, ThrottleLayer, TimeoutLayer};
use perfstack_resilience::{
    AdaptiveThrottle, Bulkhead, BulkheadPermit, CircuitBreaker, Error, Fallback, ManualClock, State, Timeout,
};
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

/// Names the error the fallback was given, so a test sees which kind reached it.
fn kind(e: &Error<&'static str>) -> &'static str {
    match e {
        Error::Inner(_) => "inner",
        Error::CircuitOpen { .. } => "circuit_open",
        Error::Timeout(_) => "timeout",
        Error::BulkheadFull { .. } => "bulkhead_full",
        Error::Throttled => "throttled",
        _ => "other",
    }
}

fn naming_fallback() -> Fallback<&'static str, &'static str> {
    Fallback::from_fn(|e: Error<&'static str>| async move { Ok(kind(&e)) })
}

/// A bare service answering at once.
type Bare = tower::util::ServiceFn<fn(u32) -> std::future::Ready<Result<&'static str, &'static str>>>;

fn down() -> Bare {
    tower::service_fn(|_| ready(Err("down")))
}

fn up() -> Bare {
    tower::service_fn(|_| ready(Ok("fresh")))
}

#[tokio::test(start_paused = true)]
async fn serves_the_fallback_on_each_error_kind() {
    let layer = FallbackLayer::new(naming_fallback());

    let inner = layer.layer(down().map_err(Error::Inner));
    assert_eq!(inner.oneshot(1).await.unwrap(), "inner");

    let breaker = CircuitBreaker::builder("open").build().unwrap();
    breaker.force_open();
    let open = layer.layer(BreakerLayer::new(breaker).layer(up()));
    assert_eq!(open.oneshot(1).await.unwrap(), "circuit_open");

    let stuck = tower::service_fn(|_: u32| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok::<_, &'static str>("late")
    });
    let timed = layer.layer(TimeoutLayer::new(Timeout::new(Duration::from_millis(50)).unwrap()).layer(stuck));
    assert_eq!(timed.oneshot(1).await.unwrap(), "timeout");

    let bulkhead = Bulkhead::builder("full").max_concurrent(1).build().unwrap();
    let held: BulkheadPermit = bulkhead.try_acquire().unwrap();
    let full = layer.layer(BulkheadLayer::new(bulkhead).layer(up()));
    assert_eq!(full.oneshot(1).await.unwrap(), "bulkhead_full");
    drop(held);

    let throttle = AdaptiveThrottle::builder().k(1.0).clock(ManualClock::new()).build().unwrap();
    for _ in 0..1_000 {
        throttle.record(false);
    }
    let throttled = layer.layer(ThrottleLayer::new(throttle).layer(up()));
    // The throttle rejects with a probability near 1 after 1 000 rejections and no accepts.
    let mut answers = Vec::new();
    for _ in 0..20 {
        answers.push(throttled.clone().oneshot(1).await.unwrap());
    }
    assert!(answers.contains(&"throttled"), "{answers:?}");

    assert_eq!(layer.fallback().used(), 4 + answers.iter().filter(|a| **a == "throttled").count() as u64);
}

#[tokio::test]
async fn success_passes_through_untouched() {
    let layer = FallbackLayer::new(Fallback::value("cached"));
    let svc = layer.layer(up().map_err(Error::Inner));
    assert_eq!(svc.oneshot(1).await.unwrap(), "fresh");
    assert_eq!(layer.fallback().used(), 0);
}

#[tokio::test]
async fn errors_the_predicate_does_not_select_pass_through() {
    let only_rejections = Fallback::value("cached").when(|e: &Error<&'static str>| e.is_rejection());
    let layer = FallbackLayer::new(only_rejections);
    let failed = layer.layer(down().map_err(Error::Inner)).oneshot(1).await;
    assert!(matches!(failed, Err(Error::Inner("down"))), "{failed:?}");

    let breaker = CircuitBreaker::builder("p").build().unwrap();
    breaker.force_open();
    let open = layer.layer(BreakerLayer::new(breaker).layer(up()));
    assert_eq!(open.oneshot(1).await.unwrap(), "cached");
    assert_eq!(layer.fallback().used(), 1);
}

#[tokio::test]
async fn the_fallback_may_fail_too() {
    let layer = FallbackLayer::new(Fallback::<&str, &str>::from_fn(|_| async { Err(Error::Inner("cache down")) }));
    let out = layer.layer(down().map_err(Error::Inner)).oneshot(1).await;
    assert!(matches!(out, Err(Error::Inner("cache down"))), "{out:?}");
}

/// Regression: clones of the layer and of its services answer with one shared fallback.
#[tokio::test]
async fn clones_share_one_fallback() {
    let layer = FallbackLayer::new(Fallback::value("cached"));
    let a = layer.clone().layer(down().map_err(Error::Inner));
    let b = layer.layer(down().map_err(Error::Inner));
    for svc in [a.clone(), b.clone(), a.clone(), b] {
        assert_eq!(svc.oneshot(1).await.unwrap(), "cached");
    }
    assert_eq!(a.fallback().used(), 4);
    assert_eq!(layer.fallback().used(), 4);
}

/// Fallback outermost, breaker under it: failures are answered while the breaker still counts
/// them, the open breaker is answered too, and the breaker recovers behind the fallback.
#[tokio::test]
async fn works_stacked_over_the_breaker_in_a_service_builder() {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder("stack")
        .count_window(4)
        .minimum_calls(4)
        .wait_in_open(Duration::from_secs(5))
        .half_open_probes(1)
        .clock(clock.clone())
        .build()
        .unwrap();
    let healthy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let h = healthy.clone();
    let mut svc = ServiceBuilder::new()
        .layer(FallbackLayer::new(naming_fallback()))
        .layer(BreakerLayer::new(breaker.clone()))
        .service_fn(move |_: u32| {
            let up = h.load(std::sync::atomic::Ordering::SeqCst);
            ready(if up { Ok("fresh") } else { Err("down") })
        });
    for _ in 0..4 {
        assert_eq!(svc.ready().await.unwrap().call(1).await.unwrap(), "inner");
    }
    assert_eq!(breaker.state(), State::Open, "the breaker saw every failure under the fallback");
    assert_eq!(svc.ready().await.unwrap().call(1).await.unwrap(), "circuit_open");
    healthy.store(true, std::sync::atomic::Ordering::SeqCst);
    clock.advance(Duration::from_secs(5));
    assert_eq!(svc.ready().await.unwrap().call(1).await.unwrap(), "fresh");
    assert_eq!(breaker.state(), State::Closed);
}

#[test]
fn layer_and_service_are_send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FallbackLayer<u32, std::io::Error>>();
    assert_send_sync::<
        perfstack_resilience::tower::Fallback<
            tower::util::BoxCloneSyncService<u32, u32, Error<std::io::Error>>,
            u32,
            std::io::Error,
        >,
    >();
}
