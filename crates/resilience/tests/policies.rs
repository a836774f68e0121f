#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Timeout, bulkhead, hedge, fallback, adaptive throttling, degradation and the pipeline.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use perfstack_resilience::backoff::Constant;
use perfstack_resilience::{
    AdaptiveThrottle, BudgetConfig, Bulkhead, CircuitBreaker, ConfigError, DegradationManager, Error, Fallback, Hedge,
    HedgeDelay, ManualClock, Pipeline, Retry, RetryBudget, State, Timeout,
};

#[test]
fn handles_are_send_sync() {
    fn ok<T: Send + Sync + Clone + 'static>() {}
    ok::<Bulkhead>();
    ok::<Hedge>();
    ok::<RetryBudget>();
    ok::<Retry>();
    ok::<AdaptiveThrottle>();
    ok::<DegradationManager>();
    ok::<Pipeline>();
    ok::<Fallback<String, std::io::Error>>();
}

#[tokio::test(start_paused = true)]
async fn timeout_fires_on_paused_time() {
    let t = Timeout::new(Duration::from_millis(100)).unwrap();
    let t0 = tokio::time::Instant::now();
    let r = t
        .call(async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<_, ()>(())
        })
        .await;
    assert!(matches!(r, Err(Error::Timeout(d)) if d == Duration::from_millis(100)));
    assert_eq!(t0.elapsed(), Duration::from_millis(100));
    assert!(matches!(Timeout::new(Duration::ZERO), Err(ConfigError::ZeroDuration { .. })));
}

#[tokio::test(start_paused = true)]
async fn bulkhead_queue_and_max_wait() {
    let b = Bulkhead::builder("b").max_concurrent(2).max_queue(1).max_wait(Duration::from_millis(50)).build().unwrap();
    let p1 = b.try_acquire().unwrap();
    let _p2 = b.try_acquire().unwrap();
    // One may wait; a second waiter is refused at once.
    let b2 = b.clone();
    let waiter = tokio::spawn(async move { b2.acquire().await.map(|_| ()) });
    tokio::task::yield_now().await;
    assert_eq!(b.stats().waiting, 1);
    assert!(b.acquire().await.is_err(), "queue full");
    drop(p1);
    assert!(waiter.await.unwrap().is_ok(), "freed slot goes to the waiter");
    // Max wait elapses.
    let _p3 = b.try_acquire().unwrap();
    let t0 = tokio::time::Instant::now();
    assert!(b.acquire().await.is_err());
    assert_eq!(t0.elapsed(), Duration::from_millis(50));
    assert_eq!(b.stats().rejected, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bulkhead_never_exceeds_its_cap() {
    let b = Bulkhead::builder("b").max_concurrent(3).max_queue(1000).build().unwrap();
    let now = Arc::new(AtomicU32::new(0));
    let peak = Arc::new(AtomicU32::new(0));
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let (b, now, peak) = (b.clone(), now.clone(), peak.clone());
        tasks.push(tokio::spawn(async move {
            b.call(async {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                tokio::task::yield_now().await;
                now.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, ()>(())
            })
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert!(peak.load(Ordering::SeqCst) <= 3);
    assert_eq!(b.stats().in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn hedge_backup_wins_and_loser_is_cancelled() {
    let hedge = Hedge::builder(HedgeDelay::Fixed { delay: Duration::from_millis(20) }).build().unwrap();
    let started = AtomicU32::new(0);
    let finished = Arc::new(AtomicU32::new(0));
    let t0 = tokio::time::Instant::now();
    let r = hedge
        .call(|| {
            let n = started.fetch_add(1, Ordering::SeqCst);
            let finished = finished.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(if n == 0 { 1000 } else { 5 })).await;
                finished.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(n)
            }
        })
        .await;
    assert_eq!(r, Ok(1));
    assert_eq!(t0.elapsed(), Duration::from_millis(25));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(finished.load(Ordering::SeqCst), 1, "the slow primary was dropped");
    assert_eq!(hedge.stats().backup_wins, 1);
}

#[tokio::test(start_paused = true)]
async fn hedge_is_budgeted_and_quantile_delay_adapts() {
    let budget = RetryBudget::builder().ratio(0.0).min_per_second(0).build().unwrap();
    let hedge = Hedge::builder(HedgeDelay::Fixed { delay: Duration::from_millis(1) }).budget(budget).build().unwrap();
    let started = AtomicU32::new(0);
    let r = hedge
        .call(|| {
            started.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_millis(10)).await;
                Ok::<_, ()>(())
            }
        })
        .await;
    assert!(r.is_ok());
    assert_eq!(started.load(Ordering::SeqCst), 1, "an empty budget allows no backup");
    assert_eq!(hedge.stats().budget_refusals, 1);

    let q = Hedge::builder(HedgeDelay::Quantile {
        quantile: 0.9,
        min: Duration::from_millis(1),
        max: Duration::from_secs(1),
    })
    .build()
    .unwrap();
    assert_eq!(q.delay(), Duration::from_secs(1));
    for _ in 0..100 {
        q.call(|| async {
            tokio::time::sleep(Duration::from_millis(7)).await;
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
    }
    assert_eq!(q.delay(), Duration::from_millis(7));
}

#[tokio::test]
async fn fallback_selects_errors() {
    let fb = Fallback::from_fn(|e: Error<&str>| async move {
        if e.is_rejection() {
            Ok("cached")
        } else {
            Err(e)
        }
    });
    assert_eq!(fb.call(async { Err(Error::Throttled) }).await.unwrap(), "cached");
    assert!(fb.call(async { Err(Error::Inner("x")) }).await.is_err());
    assert_eq!(fb.call(async { Ok("live") }).await.unwrap(), "live");
}

#[test]
fn adaptive_throttle_follows_the_sre_formula() {
    let clock = ManualClock::new();
    let t =
        AdaptiveThrottle::builder().k(2.0).window(Duration::from_secs(60), 60).clock(clock.clone()).build().unwrap();
    // 100 requests, 30 accepted: p = (100 - 60) / 101.
    for i in 0..100 {
        t.record(i < 30);
    }
    assert!((t.reject_probability() - 40.0 / 101.0).abs() < 1e-9);
    // Healthy: requests <= K * accepts gives 0.
    clock.advance(Duration::from_secs(61));
    for _ in 0..100 {
        t.record(true);
    }
    assert_eq!(t.reject_probability(), 0.0);
    assert!(matches!(AdaptiveThrottle::builder().k(0.5).build(), Err(ConfigError::OutOfRange { .. })));
}

#[test]
fn adaptive_throttle_sheds_most_load_on_a_dead_backend() {
    let clock = ManualClock::new();
    let t = AdaptiveThrottle::builder().clock(clock).build().unwrap();
    let mut sent = 0;
    for _ in 0..10_000 {
        if t.try_admit() {
            sent += 1;
            t.record(false);
        }
    }
    assert!(sent < 200, "sent {sent} of 10000 to a backend that rejects everything");
}

#[test]
fn degradation_hysteresis_does_not_flap() {
    let clock = ManualClock::new();
    let changes = Arc::new(Mutex::new(Vec::new()));
    let c = changes.clone();
    let d = DegradationManager::builder()
        .level("degraded", 0.5, 0.3, ["recs"])
        .level("critical", 0.9, 0.7, ["recs", "search"])
        .min_dwell(Duration::from_secs(10))
        .clock(clock.clone())
        .on_change(move |ch| c.lock().unwrap().push(ch.to.clone()))
        .build()
        .unwrap();
    // Oscillating around the enter threshold: in once, never out while above exit_below.
    for v in [0.51, 0.45, 0.52, 0.35, 0.55, 0.31] {
        d.set_signal("errors", v);
        clock.advance(Duration::from_secs(20));
    }
    assert_eq!(*changes.lock().unwrap(), vec!["degraded".to_string()]);
    d.set_signal("errors", 0.1);
    assert_eq!(d.level_name(), "normal");
    assert!(d.is_enabled("recs"));
    assert!(DegradationManager::builder().level("x", 0.5, 0.6, ["a"]).build().is_err());
    assert!(DegradationManager::builder().level("x", f64::NAN, 0.0, ["a"]).build().is_err());
}

#[test]
fn degradation_watches_breakers() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder("db").clock(clock.clone()).build().unwrap();
    let d = DegradationManager::builder()
        .level("degraded", 0.5, 0.3, ["reports"])
        .watch_breaker(b.clone())
        .clock(clock)
        .build()
        .unwrap();
    b.force_open();
    d.evaluate();
    assert!(!d.is_enabled("reports"));
}

#[tokio::test(start_paused = true)]
async fn pipeline_retries_through_the_breaker_and_stops_on_open() {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder("p").count_window(4).minimum_calls(4).clock(clock).build().unwrap();
    let retry = Retry::builder("p").max_attempts(10).backoff(Constant::new(Duration::from_millis(1))).build().unwrap();
    let p = Pipeline::builder()
        .retry(retry)
        .breaker(breaker.clone())
        .timeout(Timeout::new(Duration::from_secs(1)).unwrap())
        .build();
    let calls = AtomicU32::new(0);
    let r = p
        .call(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>("down")
        })
        .await;
    // 4 failures open the breaker; the 5th attempt is refused and retrying stops.
    assert!(matches!(r, Err(Error::CircuitOpen { .. })));
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn pipeline_timeout_counts_as_breaker_failure_and_is_retried() {
    let breaker = CircuitBreaker::builder("p").count_window(10).minimum_calls(10).build().unwrap();
    let retry = Retry::builder("p").max_attempts(3).backoff(Constant::new(Duration::from_millis(1))).build().unwrap();
    let p = Pipeline::builder()
        .retry(retry)
        .breaker(breaker.clone())
        .timeout(Timeout::new(Duration::from_millis(10)).unwrap())
        .build();
    let n = AtomicU32::new(0);
    let r = p
        .call(|| {
            let k = n.fetch_add(1, Ordering::SeqCst);
            async move {
                if k < 2 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Ok::<_, ()>(k)
            }
        })
        .await;
    assert_eq!(r.unwrap(), 2);
    assert_eq!(breaker.stats().window_failures, 2);
    let _ = BudgetConfig::default();
}

#[test]
fn serde_configs_build_policies() {
    use perfstack_resilience::{DegradationConfig, ThrottleConfig};
    let d: DegradationConfig = serde_json::from_str(
        r#"{"levels":[{"name":"degraded","enter_at":0.5,"exit_below":0.3,"disabled":["recs"]}],"min_dwell":{"secs":1,"nanos":0}}"#,
    )
    .unwrap();
    let m = d.build().unwrap();
    m.set_signal("x", 0.7);
    assert!(!m.is_enabled("recs"));
    let t: ThrottleConfig = serde_json::from_str(r#"{"k":1.5}"#).unwrap();
    assert!(AdaptiveThrottle::from_config(&t).is_ok());
    assert!(AdaptiveThrottle::from_config(&ThrottleConfig { k: f64::NAN, ..t }).is_err());
    let h: HedgeDelay = serde_json::from_str(
        r#"{"kind":"quantile","quantile":0.95,"min":{"secs":0,"nanos":1000000},"max":{"secs":1,"nanos":0}}"#,
    )
    .unwrap();
    assert!(Hedge::builder(h).build().is_ok());
    assert!(Hedge::builder(HedgeDelay::Quantile { quantile: 1.5, min: Duration::ZERO, max: Duration::from_secs(1) })
        .build()
        .is_err());
}

#[test]
fn zero_permits_and_bad_durations_are_refused() {
    assert!(matches!(Bulkhead::builder("b").max_concurrent(0).build(), Err(ConfigError::Zero { .. })));
    assert!(matches!(
        Bulkhead::builder("b").max_queue(4).max_wait(Duration::ZERO).build(),
        Err(ConfigError::ZeroDuration { .. })
    ));
    assert!(matches!(
        Hedge::builder(HedgeDelay::Fixed { delay: Duration::ZERO }).build(),
        Err(ConfigError::ZeroDuration { .. })
    ));
    assert!(matches!(
        AdaptiveThrottle::builder().window(Duration::from_secs(1), 0).build(),
        Err(ConfigError::Zero { .. })
    ));
}

/// Settings `build()` accepts must never panic at call time: a Retry-After or wait that is too
/// large to add to an instant is treated as over the budget or as no deadline.
#[tokio::test(start_paused = true)]
async fn extreme_durations_accepted_at_build_never_panic_at_call_time() {
    let retry = Retry::builder("huge").max_attempts(3).max_elapsed(Duration::from_secs(1)).build().unwrap();
    let calls = AtomicU32::new(0);
    let r: Result<(), u16> = retry
        .call_if(
            |_: &u16| perfstack_resilience::Verdict::RetryAfter(Duration::MAX),
            || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err(503) }
            },
        )
        .await;
    assert!(r.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1, "a Retry-After beyond max_elapsed stops retrying");

    let bulkhead = Bulkhead::builder("huge").max_concurrent(1).max_queue(1).max_wait(Duration::MAX).build().unwrap();
    let held = bulkhead.try_acquire().unwrap();
    let waiter = tokio::spawn({
        let b = bulkhead.clone();
        async move { b.acquire().await.is_ok() }
    });
    tokio::time::sleep(Duration::from_secs(5)).await;
    drop(held);
    assert!(waiter.await.unwrap(), "a huge max_wait waits like no deadline");
}

#[test]
fn budget_settings_that_would_overflow_the_balance_are_refused() {
    let tiny = BudgetConfig { ratio: 1e-12, ..BudgetConfig::default() };
    assert!(matches!(RetryBudget::from_config(&tiny), Err(ConfigError::OutOfRange { name: "ratio", .. })));
    let huge = BudgetConfig { min_per_second: u32::MAX, window: Duration::from_secs(3_600), ..BudgetConfig::default() };
    assert!(RetryBudget::from_config(&huge).is_err());
    assert!(RetryBudget::from_config(&BudgetConfig { ratio: 0.0, ..BudgetConfig::default() }).is_ok());
}
