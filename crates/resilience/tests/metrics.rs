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
