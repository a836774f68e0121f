#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The breaker reports state, transitions and rejections through the `metrics` facade, and
//! every part labels its metrics with its `name`.

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use perfstack_resilience::{CircuitBreaker, ManualClock};

#[test]
fn breaker_emits_state_transitions_and_rejections() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let clock = ManualClock::new();
        let b = CircuitBreaker::builder("orders")
            .count_window(4)
            .minimum_calls(4)
            .wait_in_open(Duration::from_secs(1))
            .clock(clock)
            .build()
            .unwrap();
        for _ in 0..4 {
            b.try_acquire().unwrap().failure();
        }
        assert!(b.try_acquire().is_err());
        assert!(b.try_acquire().is_err());
    });
    let mut state = None;
    let mut opened = 0;
    let mut rejected = 0;
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let k = key.key();
        let labels: Vec<(String, String)> = k.labels().map(|l| (l.key().to_owned(), l.value().to_owned())).collect();
        assert!(labels.contains(&("name".into(), "orders".into())), "{k:?}");
        match (k.name(), value) {
            ("perfstack_resilience_breaker_state", DebugValue::Gauge(v)) => state = Some(v.into_inner()),
            ("perfstack_resilience_breaker_transitions_total", DebugValue::Counter(n)) => {
                assert!(
                    labels.contains(&("from".into(), "closed".into()))
                        && labels.contains(&("to".into(), "open".into()))
                );
                opened = n;
            }
            ("perfstack_resilience_breaker_rejected_total", DebugValue::Counter(n)) => rejected = n,
            _ => {}
        }
    }
    assert_eq!(state, Some(1.0), "gauge says open");
    assert_eq!(opened, 1);
    assert_eq!(rejected, 2);
}

/// Budgets, hedges and retries are told apart by a `name` label (default `"default"`).
#[test]
fn budget_hedge_and_retry_counters_carry_a_name() {
    use perfstack_resilience::{Hedge, HedgeDelay, Retry, RetryBudget};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let clock = ManualClock::new();
        let a =
            RetryBudget::builder().name("search").ratio(0.0).min_per_second(0).clock(clock.clone()).build().unwrap();
        let b = RetryBudget::builder().ratio(0.0).min_per_second(0).clock(clock).build().unwrap();
        assert!(!a.try_withdraw() && !a.try_withdraw() && !b.try_withdraw());
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        let retry = Retry::builder("orders").max_attempts(2).build().unwrap();
        let mut n = 0;
        let r = rt.block_on(retry.call(|| {
            n += 1;
            std::future::ready(if n == 1 { Err(()) } else { Ok(()) })
        }));
        assert!(r.is_ok());
        let hedge =
            Hedge::builder(HedgeDelay::Fixed { delay: Duration::from_millis(1) }).name("fanout").build().unwrap();
        let r = rt.block_on(hedge.call(|| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok::<_, ()>(())
        }));
        assert!(r.is_ok());
    });
    assert_eq!(
        named_values(&snapshotter),
        vec![
            want("perfstack_resilience_hedge_backups_total", "fanout", 1),
            want("perfstack_resilience_retry_attempts_total", "orders", 1),
            want("perfstack_resilience_retry_budget_exhausted_total", "default", 1),
            want("perfstack_resilience_retry_budget_exhausted_total", "search", 2),
        ]
    );
}

/// Timeouts, throttles, fallbacks and degradation managers are told apart by a `name` label
/// too: the name given with `with_name` or the builder's `name`, `"default"` otherwise.
#[test]
fn timeout_throttle_fallback_and_degradation_carry_a_name() {
    use perfstack_resilience::{AdaptiveThrottle, DegradationManager, Error, Fallback, Timeout};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        let stuck = || async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, ()>(())
        };
        let named = Timeout::new(Duration::from_millis(1)).unwrap().with_name("search");
        assert!(rt.block_on(named.call(stuck())).is_err());
        assert!(rt.block_on(named.clone().call(stuck())).is_err(), "clones share the name");
        assert!(rt.block_on(Timeout::new(Duration::from_millis(1)).unwrap().call(stuck())).is_err());
        let throttle = AdaptiveThrottle::builder().name("search").clock(ManualClock::new()).build().unwrap();
        for _ in 0..1_000 {
            throttle.record(false);
        }
        while throttle.try_admit() {}
        let fallback = Fallback::value(0).with_name("search");
        assert!(rt.block_on(fallback.call(async { Err(Error::<()>::Throttled) })).is_ok());
        let levels = DegradationManager::builder()
            .name("search")
            .level("degraded", 0.5, 0.3, ["x"])
            .clock(ManualClock::new())
            .build()
            .unwrap();
        levels.set_signal("error_rate", 1.0);
    });
    assert_eq!(
        named_values(&snapshotter),
        vec![
            want("perfstack_resilience_degradation_level", "search", 1),
            want("perfstack_resilience_fallback_used_total", "search", 1),
            want("perfstack_resilience_throttle_rejected_total", "search", 1),
            want("perfstack_resilience_timeout_elapsed_total", "default", 1),
            want("perfstack_resilience_timeout_elapsed_total", "search", 2),
        ]
    );
}

/// Every counter and gauge as `(metric, name label, value)`, sorted.
fn named_values(snapshotter: &Snapshotter) -> Vec<(String, Option<String>, u64)> {
    let mut seen = Vec::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let k = key.key();
        let name = k.labels().find(|l| l.key() == "name").map(|l| l.value().to_owned());
        match value {
            DebugValue::Counter(n) => seen.push((k.name().to_owned(), name, n)),
            DebugValue::Gauge(v) => seen.push((k.name().to_owned(), name, v.into_inner() as u64)),
            DebugValue::Histogram(_) => {}
        }
    }
    seen.sort();
    seen
}

fn want(metric: &str, name: &str, value: u64) -> (String, Option<String>, u64) {
    (metric.to_owned(), Some(name.to_owned()), value)
}
