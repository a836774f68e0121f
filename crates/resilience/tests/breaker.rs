#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Circuit breaker behaviour, including the known bug classes of other breakers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use perfstack_resilience::{
    BreakerConfig, CircuitBreaker, ConfigError, ManualClock, Outcome, Reason, State, WindowConfig,
};

fn breaker(clock: &ManualClock, probes: u32) -> CircuitBreaker {
    CircuitBreaker::builder("t")
        .count_window(10)
        .minimum_calls(4)
        .failure_rate_threshold(50.0)
        .wait_in_open(Duration::from_secs(10))
        .half_open_probes(probes)
        .clock(clock.clone())
        .build()
        .unwrap()
}

fn fail_n(b: &CircuitBreaker, n: usize) {
    for _ in 0..n {
        if let Ok(p) = b.try_acquire() {
            p.failure();
        }
    }
}

#[test]
fn handles_are_send_sync_and_cheap() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<CircuitBreaker>();
    fn assert_send<T: Send>() {}
    assert_send::<perfstack_resilience::OwnedPermit>();
}

#[test]
fn opens_only_after_minimum_calls_and_threshold() {
    let clock = ManualClock::new();
    let b = breaker(&clock, 2);
    fail_n(&b, 3);
    assert_eq!(b.state(), State::Closed, "3 calls < minimum 4");
    b.try_acquire().unwrap().success();
    // 3 failures of 4 = 75 % >= 50 %: the success that reached the minimum triggers evaluation.
    assert_eq!(b.state(), State::Open);
    assert!(b.try_acquire().is_err());
    assert_eq!(b.stats().rejected, 1);
}

#[test]
fn stays_closed_below_threshold() {
    let clock = ManualClock::new();
    let b = breaker(&clock, 2);
    for i in 0..100 {
        let p = b.try_acquire().unwrap();
        if i % 3 == 1 {
            p.failure();
        } else {
            p.success();
        }
    }
    assert_eq!(b.state(), State::Closed);
    let s = b.stats();
    assert_eq!(s.window_calls, 10);
}

#[test]
fn ignored_outcomes_are_not_recorded() {
    let clock = ManualClock::new();
    let b = breaker(&clock, 2);
    for _ in 0..20 {
        b.try_acquire().unwrap().record(Outcome::Ignore);
    }
    assert_eq!(b.stats().window_calls, 0);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn open_duration_then_half_open_then_close_on_probe_success() {
    let clock = ManualClock::new();
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let b = CircuitBreaker::builder("t")
        .count_window(10)
        .minimum_calls(4)
        .wait_in_open(Duration::from_secs(10))
        .half_open_probes(2)
        .clock(clock.clone())
        .on_state_change(move |c| ev.lock().unwrap().push((c.from, c.to, c.reason)))
        .build()
        .unwrap();
    fail_n(&b, 4);
    assert_eq!(b.state(), State::Open);
    clock.advance(Duration::from_millis(9_999));
    let err = b.try_acquire().unwrap_err();
    assert_eq!(err.retry_after, Some(Duration::from_millis(1)));
    clock.advance(Duration::from_millis(1));
    let p1 = b.try_acquire().unwrap();
    assert_eq!(b.state(), State::HalfOpen);
    let p2 = b.try_acquire().unwrap();
    assert!(b.try_acquire().is_err(), "third probe refused");
    p1.success();
    assert_eq!(b.state(), State::HalfOpen);
    p2.success();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.stats().window_calls, 0, "window cleared on close");
    let ev = events.lock().unwrap().clone();
    assert_eq!(
        ev,
        vec![
            (State::Closed, State::Open, Reason::FailureRate),
            (State::Open, State::HalfOpen, Reason::OpenDurationElapsed),
            (State::HalfOpen, State::Closed, Reason::ProbesSucceeded),
        ]
    );
}

#[test]
fn failed_probe_reopens_and_open_duration_can_grow() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder("t")
        .count_window(4)
        .minimum_calls(4)
        .wait_in_open(Duration::from_secs(1))
        .exponential_wait_in_open(Duration::from_secs(8))
        .half_open_probes(1)
        .clock(clock.clone())
        .build()
        .unwrap();
    fail_n(&b, 4);
    for expected in [1u64, 2, 4, 8, 8] {
        assert_eq!(b.state(), State::Open);
        let left = b.try_acquire().unwrap_err().retry_after.unwrap();
        assert_eq!(left, Duration::from_secs(expected));
        clock.advance(left);
        b.try_acquire().unwrap().failure();
    }
}

#[test]
fn dropped_probe_frees_its_slot() {
    let clock = ManualClock::new();
    let b = breaker(&clock, 1);
    fail_n(&b, 4);
    clock.advance(Duration::from_secs(10));
    let p = b.try_acquire().unwrap();
    assert!(b.try_acquire().is_err());
    drop(p); // cancelled call
    let p = b.try_acquire().unwrap();
    p.success();
    assert_eq!(b.state(), State::Closed);
}

/// Regression: a call admitted while closed that succeeds after the breaker opened must not
/// close it (or count toward any later window).
#[test]
fn stale_success_cannot_close_an_open_breaker() {
    let clock = ManualClock::new();
    let b = breaker(&clock, 1);
    let slow_calls: Vec<_> = (0..10).map(|_| b.try_acquire_owned().unwrap()).collect();
    fail_n(&b, 4);
    assert_eq!(b.state(), State::Open);
    for p in slow_calls {
        p.success();
    }
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.stats().stale_outcomes, 10);
    // Also in half-open: an old closed-generation success is not a probe result.
    clock.advance(Duration::from_secs(10));
    let old = b.try_acquire_owned();
    assert!(old.is_ok()); // this one is the probe
    let probe = old.unwrap();
    assert_eq!(b.state(), State::HalfOpen);
    probe.failure();
    assert_eq!(b.state(), State::Open);
}

/// Regression: half-open must admit exactly N probes however many threads race for them.
#[test]
fn half_open_admits_exactly_n_probes_under_contention() {
    for round in 0..20 {
        let clock = ManualClock::new();
        let probes = 1 + (round % 7);
        let b = breaker(&clock, probes);
        fail_n(&b, 4);
        clock.advance(Duration::from_secs(10));
        let threads = 16;
        let barrier = Arc::new(Barrier::new(threads));
        let admitted = Arc::new(AtomicUsize::new(0));
        let held = Arc::new(Mutex::new(Vec::new()));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (b, barrier, admitted, held) = (b.clone(), barrier.clone(), admitted.clone(), held.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..200 {
                        if let Ok(p) = b.try_acquire_owned() {
                            admitted.fetch_add(1, Ordering::SeqCst);
                            held.lock().unwrap().push(p); // hold: outcome not yet known
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(admitted.load(Ordering::SeqCst), probes as usize, "round {round}");
        assert_eq!(b.state(), State::HalfOpen);
        for p in held.lock().unwrap().drain(..) {
            p.success();
        }
        assert_eq!(b.state(), State::Closed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn half_open_exact_with_hundreds_of_tasks() {
    let clock = ManualClock::new();
    let b = breaker(&clock, 3);
    fail_n(&b, 4);
    clock.advance(Duration::from_secs(10));
    let admitted = Arc::new(AtomicUsize::new(0));
    let tried = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(tokio::sync::Barrier::new(300));
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let mut tasks = Vec::new();
    for _ in 0..300 {
        let (b, admitted, tried, gate, release) =
            (b.clone(), admitted.clone(), tried.clone(), gate.clone(), release.clone());
        tasks.push(tokio::spawn(async move {
            gate.wait().await;
            let permit = b.try_acquire_owned();
            tried.fetch_add(1, Ordering::SeqCst);
            if let Ok(p) = permit {
                admitted.fetch_add(1, Ordering::SeqCst);
                // Hold the probe until every task has tried.
                let _go = release.acquire().await.unwrap();
                p.success();
            }
        }));
    }
    while tried.load(Ordering::SeqCst) < 300 {
        tokio::task::yield_now().await;
    }
    assert_eq!(admitted.load(Ordering::SeqCst), 3, "300 racing tasks, 3 probes");
    assert_eq!(b.state(), State::HalfOpen);
    release.add_permits(300);
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn slow_calls_trip_the_breaker() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder("slow")
        .count_window(10)
        .minimum_calls(5)
        .slow_calls(Duration::from_millis(100), 60.0)
        .clock(clock.clone())
        .build()
        .unwrap();
    for i in 0..5 {
        let p = b.try_acquire().unwrap();
        clock.advance(Duration::from_millis(if i < 3 { 150 } else { 10 }));
        p.success();
    }
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.stats().window_slow_calls, 3);
}

#[test]
fn time_window_forgets_old_failures() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder("tw")
        .time_window(Duration::from_secs(10), 10)
        .minimum_calls(6)
        .clock(clock.clone())
        .build()
        .unwrap();
    fail_n(&b, 5);
    clock.advance(Duration::from_secs(11));
    // The 5 failures expired: one more failure is 1 of 1 calls, below the minimum.
    fail_n(&b, 1);
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.stats().window_calls, 1);
    fail_n(&b, 5);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn manual_states() {
    let clock = ManualClock::new();
    let b = breaker(&clock, 1);
    b.force_open();
    assert_eq!(b.state(), State::ForcedOpen);
    assert!(b.try_acquire().is_err());
    clock.advance(Duration::from_secs(3600));
    assert!(b.try_acquire().is_err(), "forced open ignores the open duration");
    b.force_closed();
    fail_n(&b, 50);
    assert_eq!(b.state(), State::ForcedClosed);
    b.disable();
    fail_n(&b, 50);
    assert_eq!(b.state(), State::Disabled);
    b.reset();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.stats().window_calls, 0);
    assert_eq!(b.generation(), 4);
}

#[test]
fn invalid_settings_are_refused_at_build() {
    let bad = |c: BreakerConfig| CircuitBreaker::from_config(c).unwrap_err();
    let d = BreakerConfig::default;
    assert!(matches!(bad(BreakerConfig { failure_rate_threshold: 101.0, ..d() }), ConfigError::Percentage { .. }));
    assert!(matches!(bad(BreakerConfig { failure_rate_threshold: f64::NAN, ..d() }), ConfigError::Percentage { .. }));
    assert!(matches!(bad(BreakerConfig { window: WindowConfig::Count { size: 0 }, ..d() }), ConfigError::Zero { .. }));
    assert!(matches!(
        bad(BreakerConfig { window: WindowConfig::Time { length: Duration::ZERO, buckets: 10 }, ..d() }),
        ConfigError::ZeroDuration { .. }
    ));
    assert!(matches!(bad(BreakerConfig { half_open_probes: 0, ..d() }), ConfigError::Zero { .. }));
    assert!(matches!(bad(BreakerConfig { half_open_probes: 256, ..d() }), ConfigError::TooLarge { .. }));
    assert!(matches!(bad(BreakerConfig { minimum_calls: 101, ..d() }), ConfigError::Inconsistent(_)));
    assert!(CircuitBreaker::from_config(d()).is_ok());
}

#[test]
fn config_round_trips_through_serde() {
    let c = BreakerConfig {
        window: WindowConfig::Time { length: Duration::from_secs(60), buckets: 12 },
        slow_call_duration: Some(Duration::from_millis(250)),
        ..BreakerConfig::default()
    };
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<BreakerConfig>(&json).unwrap(), c);
    let partial: BreakerConfig = serde_json::from_str(r#"{"name":"x","half_open_probes":3}"#).unwrap();
    assert_eq!(partial.half_open_probes, 3);
    assert_eq!(partial.failure_rate_threshold, 50.0);
}

#[tokio::test(start_paused = true)]
async fn paused_tokio_time_drives_the_default_clock() {
    let b = CircuitBreaker::builder("tokio")
        .count_window(4)
        .minimum_calls(4)
        .wait_in_open(Duration::from_secs(30))
        .build()
        .unwrap();
    for _ in 0..4 {
        let _ = b.call(async { Err::<(), _>("boom") }).await;
    }
    assert_eq!(b.state(), State::Open);
    tokio::time::advance(Duration::from_secs(30)).await;
    let v = b.call(async { Ok::<_, &str>(7) }).await.unwrap();
    assert_eq!(v, 7);
}
