#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The breaker reports state, transitions and rejections through the `metrics` facade.

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
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
            ("perfstack_breaker_state", DebugValue::Gauge(v)) => state = Some(v.into_inner()),
            ("perfstack_breaker_transitions_total", DebugValue::Counter(n)) => {
                assert!(
                    labels.contains(&("from".into(), "closed".into()))
                        && labels.contains(&("to".into(), "open".into()))
                );
                opened = n;
            }
            ("perfstack_breaker_rejected_total", DebugValue::Counter(n)) => rejected = n,
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
    let mut seen = Vec::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let k = key.key();
        let name = k.labels().find(|l| l.key() == "name").map(|l| l.value().to_owned());
        if let DebugValue::Counter(n) = value {
            seen.push((k.name().to_owned(), name, n));
        }
    }
    seen.sort();
    let want = |m: &str, n: &str, c: u64| (m.to_owned(), Some(n.to_owned()), c);
    assert_eq!(
        seen,
        vec![
            want("perfstack_hedge_backups_total", "fanout", 1),
            want("perfstack_retry_attempts_total", "orders", 1),
            want("perfstack_retry_budget_exhausted_total", "default", 1),
            want("perfstack_retry_budget_exhausted_total", "search", 2),
        ]
    );
}
