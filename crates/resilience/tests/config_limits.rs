#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Settings at the edges users hit by mistake (`0`, `1`, `u32::MAX`, `Duration::MAX`,
//! `Duration::ZERO`, NaN, odd names) give a build error or a policy that works, and no window
//! or backoff schedule costs more than its documented bound (issue 14, finding 7).

use std::sync::mpsc;
use std::time::Duration;

use perfstack_resilience::backoff::{Backoff, BackonSchedule, Constant, DecorrelatedJitter, Exponential, Fibonacci};
use perfstack_resilience::{
    AdaptiveThrottle, BudgetConfig, Clock, ConfigError, ManualClock, RetryBudget, State, ThrottleConfig, WindowConfig,
};
use perfstack_resilience::{CircuitBreaker, CoarseClock};

/// Runs `f` on its own thread and fails if it has not returned after 10 s. A hang guard (the
/// fuzz harness runs every case with one), not a timing claim: each case here takes
/// microseconds once it is O(1) or O(log n), and billions of steps before.
fn finishes<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|_| panic!("{what} did not return within 10 s"))
}

fn too_large(r: Result<impl std::fmt::Debug, ConfigError>) -> (&'static str, u64, u64) {
    match r {
        Err(ConfigError::TooLarge { name, value, max }) => (name, value, max),
        other => panic!("expected ConfigError::TooLarge, got {other:?}"),
    }
}

/// A closed breaker that records one failure and one success, opens on demand, and still
/// answers `stats()`: "survives one use".
fn use_breaker(b: &CircuitBreaker) {
    b.try_acquire().unwrap().success();
    b.try_acquire().unwrap().failure();
    let _ = b.stats();
    b.force_open();
    assert!(b.try_acquire().is_err());
    b.reset();
    assert!(b.try_acquire().is_ok());
}

#[test]
fn a_count_window_above_the_bound_is_a_build_error() {
    let (name, value, max) =
        too_large(finishes("count_window(u32::MAX)", || CircuitBreaker::builder("w").count_window(u32::MAX).build()));
    assert_eq!((name, value, max), ("window.size", u64::from(u32::MAX), u64::from(WindowConfig::MAX_COUNT_SIZE)));
    let over = WindowConfig::MAX_COUNT_SIZE + 1;
    assert!(matches!(
        CircuitBreaker::builder("w").count_window(over).build(),
        Err(ConfigError::TooLarge { name: "window.size", .. })
    ));
    // The bound itself builds and works.
    let b = CircuitBreaker::builder("w")
        .count_window(WindowConfig::MAX_COUNT_SIZE)
        .minimum_calls(1)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    use_breaker(&b);
    let one = CircuitBreaker::builder("w").count_window(1).minimum_calls(1).clock(ManualClock::new()).build().unwrap();
    one.try_acquire().unwrap().failure();
    assert_eq!(one.state(), State::Open, "a window of one call trips on its one failure");
}

#[test]
fn a_time_window_with_too_many_buckets_is_a_build_error() {
    // Was: validated, then aborted on a 34 GB allocation.
    let r = finishes("time_window(2^40 s, u32::MAX)", || {
        CircuitBreaker::builder("w").time_window(Duration::from_secs(1 << 40), u32::MAX).build()
    });
    let (name, value, max) = too_large(r);
    assert_eq!((name, value, max), ("window.buckets", u64::from(u32::MAX), u64::from(WindowConfig::MAX_BUCKETS)));
    let config = perfstack_resilience::BreakerConfig {
        window: WindowConfig::Time { length: Duration::from_secs(60), buckets: WindowConfig::MAX_BUCKETS + 1 },
        ..Default::default()
    };
    assert!(matches!(config.validate(), Err(ConfigError::TooLarge { name: "window.buckets", .. })));
    for (length, buckets) in [
        (Duration::MAX, WindowConfig::MAX_BUCKETS),
        (Duration::MAX, 1),
        (Duration::from_secs(1 << 40), 1),
        (Duration::from_nanos(u64::from(WindowConfig::MAX_BUCKETS)), WindowConfig::MAX_BUCKETS),
    ] {
        let clock = ManualClock::new();
        let b = CircuitBreaker::builder("w")
            .time_window(length, buckets)
            .minimum_calls(u32::MAX)
            .slow_calls(Duration::MAX, 100.0)
            .clock(clock.clone())
            .build()
            .unwrap();
        use_breaker(&b);
        clock.advance(Duration::MAX);
        assert_eq!(b.stats().window_calls, 0, "{length:?}/{buckets}: everything left the window");
    }
}

#[test]
fn throttle_and_budget_windows_are_bounded_too() {
    let (name, _, max) = too_large(finishes("throttle window(u32::MAX buckets)", || {
        AdaptiveThrottle::builder().window(Duration::MAX, u32::MAX).build()
    }));
    assert_eq!((name, max), ("buckets", u64::from(ThrottleConfig::MAX_BUCKETS)));
    let t = AdaptiveThrottle::builder()
        .window(Duration::MAX, ThrottleConfig::MAX_BUCKETS)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    assert!(t.try_admit());
    t.record(false);
    assert!(t.reject_probability() <= 1.0);

    // 2^40 s in u32::MAX slots passes the 1 ms-per-slot rule: it was a 34 GB allocation.
    let (name, _, max) = too_large(finishes("budget window(u32::MAX slots)", || {
        RetryBudget::builder().min_per_second(0).window(Duration::from_secs(1 << 40), u32::MAX).build()
    }));
    assert_eq!((name, max), ("slots", u64::from(BudgetConfig::MAX_SLOTS)));
    let budget = RetryBudget::builder()
        .ratio(1000.0)
        .min_per_second(0)
        .window(Duration::MAX, BudgetConfig::MAX_SLOTS)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    budget.deposit();
    assert!(budget.try_withdraw());
}

/// `F(n)` in `u128`, saturating: the reference for the schedule's closed form.
fn fib(n: u32) -> Option<u128> {
    let (mut a, mut b) = (1u128, 1u128);
    for _ in 1..n {
        let next = a.checked_add(b)?;
        a = b;
        b = next;
    }
    Some(a)
}

fn reference_fibonacci(base: Duration, max: Duration, n: u32) -> Duration {
    if base.is_zero() {
        return Duration::ZERO;
    }
    let nanos = fib(n).and_then(|f| f.checked_mul(base.as_nanos()));
    let d = nanos.and_then(|ns| {
        let secs = u64::try_from(ns / 1_000_000_000).ok()?;
        Some(Duration::new(secs, (ns % 1_000_000_000) as u32))
    });
    d.map_or(max, |d| d.min(max))
}

#[test]
fn fibonacci_is_exact_past_u32_and_saturates_in_constant_time() {
    let s = Fibonacci::new(Duration::from_secs(1), Duration::MAX);
    // F(60) = 1 548 008 755 920: the old ceiling clamped the multiplier to u32::MAX.
    assert_eq!(s.delay(60), Some(Duration::from_secs(1_548_008_755_920)));
    let ns = Fibonacci::new(Duration::from_nanos(1), Duration::MAX);
    assert_eq!(ns.delay(93), Some(Duration::from_nanos(12_200_160_415_121_876_738)), "F(93), the last u64");
    let f94 = 19_740_274_219_868_223_167u128;
    let want = Duration::new((f94 / 1_000_000_000) as u64, (f94 % 1_000_000_000) as u32);
    assert_eq!(ns.delay(94), Some(want), "F(94) overflows u64, but F(94) ns fits a Duration");
    finishes("ceilings up to u32::MAX", || {
        let bases = [Duration::ZERO, Duration::from_nanos(1), Duration::from_nanos(7), Duration::from_millis(10)];
        for base in bases.into_iter().chain([Duration::MAX]) {
            for max in [Duration::ZERO, Duration::from_secs(1), Duration::from_secs(1 << 40), Duration::MAX] {
                let s = Fibonacci::new(base, max);
                for n in (0..=200).chain([1_000, u32::MAX - 1, u32::MAX]) {
                    let want = reference_fibonacci(base, max.max(base), n.max(1));
                    assert_eq!(s.ceiling(n), want, "base {base:?}, max {max:?}, attempt {n}");
                }
            }
        }
    });
    let d = finishes("Fibonacci(1 s, MAX).delay(u32::MAX)", || {
        Fibonacci::new(Duration::from_secs(1), Duration::MAX).with_full_jitter().delay(u32::MAX)
    });
    assert!(d.is_some());
}

#[test]
fn every_schedule_answers_any_attempt_without_panicking() {
    let schedules: Vec<Box<dyn Backoff>> = vec![
        Box::new(Exponential::new(Duration::MAX, Duration::MAX).factor(f64::INFINITY)),
        Box::new(Exponential::new(Duration::ZERO, Duration::MAX).factor(f64::NAN).without_jitter()),
        Box::new(Exponential::new(Duration::from_nanos(1), Duration::MAX).factor(f64::MAX)),
        Box::new(Exponential::new(Duration::from_secs(1), Duration::ZERO).factor(-1.0)),
        Box::new(DecorrelatedJitter::new(Duration::ZERO, Duration::MAX)),
        Box::new(DecorrelatedJitter::new(Duration::MAX, Duration::MAX)),
        Box::new(DecorrelatedJitter::new(Duration::from_secs(1 << 62), Duration::MAX)),
        Box::new(Constant::new(Duration::MAX).max_retries(u32::MAX)),
        Box::new(Constant::new(Duration::ZERO).max_retries(0)),
        Box::new(Fibonacci::new(Duration::MAX, Duration::MAX).with_full_jitter()),
        Box::new(BackonSchedule::new(backon::ExponentialBuilder::default().with_jitter().without_max_times())),
        Box::new(BackonSchedule::new(backon::FibonacciBuilder::default().without_max_times())),
        Box::new(BackonSchedule::new(backon::ConstantBuilder::default().without_max_times())),
    ];
    finishes("every schedule at extreme attempts", move || {
        for s in &schedules {
            for attempt in [0, 1, 2, 3, 64, 1_000, 100_000, u32::MAX - 1, u32::MAX] {
                let d = s.delay(attempt);
                let _ = s.next_delay(attempt, d);
                let _ = s.next_delay(attempt, Some(Duration::MAX));
            }
            // Driving the retry loop's way (each delay from the previous one) for a while.
            let mut previous = None;
            for attempt in 1..=200 {
                previous = s.next_delay(attempt, previous).or(previous);
            }
        }
    });
}

#[test]
fn a_backon_schedule_reads_a_bounded_prefix() {
    let every = BackonSchedule::new(backon::ExponentialBuilder::default().with_jitter().without_max_times());
    let d = finishes("BackonSchedule(without_max_times).delay(u32::MAX)", move || every.delay(u32::MAX));
    assert!(d.is_some(), "an endless backon schedule never runs out");
    let steady = BackonSchedule::new(
        backon::ConstantBuilder::default().with_delay(Duration::from_millis(7)).without_max_times(),
    );
    assert_eq!(steady.delay(u32::MAX), Some(Duration::from_millis(7)));
    assert_eq!(steady.delay(BackonSchedule::<backon::ConstantBuilder>::MAX_STEPS + 1), Some(Duration::from_millis(7)));
    // A limit inside the prefix is honoured exactly.
    let five = BackonSchedule::new(backon::ConstantBuilder::default().with_max_times(5));
    assert!(five.delay(5).is_some());
    assert_eq!(five.delay(6), None);
    assert_eq!(five.delay(u32::MAX), None);
}

#[test]
fn a_manual_clock_saturates_instead_of_wrapping() {
    let clock = ManualClock::new();
    clock.advance(Duration::MAX);
    clock.advance(Duration::MAX);
    assert_eq!(clock.now_nanos(), u64::MAX, "time never goes back");
    clock.advance(Duration::from_nanos(1));
    assert_eq!(clock.now_nanos(), u64::MAX);
}

#[tokio::test(start_paused = true)]
async fn a_coarse_clock_with_a_huge_resolution_still_ticks_once() {
    let clock = CoarseClock::spawn(Duration::MAX).unwrap();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let _ = clock.now_nanos();
    assert!(matches!(CoarseClock::spawn(Duration::ZERO), Err(ConfigError::ZeroDuration { .. })));
}

#[test]
fn odd_names_and_extreme_open_durations_work() {
    let huge = "x".repeat(1 << 20);
    for name in ["", "quote\"d", "new\nline", "nul\0byte", huge.as_str()] {
        let clock = ManualClock::new();
        let b = CircuitBreaker::builder(name)
            .count_window(1)
            .minimum_calls(1)
            .wait_in_open(Duration::MAX)
            .exponential_wait_in_open(Duration::MAX)
            .half_open_probes(255)
            .clock(clock.clone())
            .build()
            .unwrap();
        b.try_acquire().unwrap().failure();
        assert_eq!(b.state(), State::Open);
        clock.advance(Duration::from_secs(1 << 30));
        assert!(b.try_acquire().is_err(), "open for Duration::MAX: still open 34 years later");
        assert_eq!(b.name(), name);
        let budget =
            RetryBudget::builder().name(name).ratio(0.0).min_per_second(0).clock(clock.clone()).build().unwrap();
        assert!(!budget.try_withdraw());
    }
    for ratio in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.5, 0.0, 1e300] {
        assert!(RetryBudget::builder().ratio(ratio).build().is_err() != (ratio == 0.0), "ratio {ratio}");
        assert!(AdaptiveThrottle::builder().k(ratio).build().is_err() != (ratio == 1e300), "k {ratio}");
        assert!(CircuitBreaker::builder("r").failure_rate_threshold(ratio).build().is_err(), "rate {ratio}");
    }
}

/// Every policy built at the extremes it accepts, stacked in one pipeline: a call goes
/// through, a failing call is retried and then answered by the fallback (paused time).
#[tokio::test(start_paused = true)]
async fn extreme_but_accepted_settings_survive_a_pipeline_call() {
    use perfstack_resilience::{Bulkhead, DegradationManager, Fallback, Hedge, HedgeDelay, Pipeline, Retry, Timeout};
    let budget = RetryBudget::builder()
        .ratio(1000.0)
        .min_per_second(0)
        .window(Duration::MAX, BudgetConfig::MAX_SLOTS)
        .name("")
        .build()
        .unwrap();
    let breaker = CircuitBreaker::builder("nul\0")
        .time_window(Duration::from_nanos(u64::from(WindowConfig::MAX_BUCKETS)), WindowConfig::MAX_BUCKETS)
        .minimum_calls(1)
        .slow_calls(Duration::from_nanos(1), 100.0)
        .failure_rate_threshold(100.0)
        .wait_in_open(Duration::from_nanos(1))
        .exponential_wait_in_open(Duration::MAX)
        .half_open_probes(1)
        .build()
        .unwrap();
    let pipeline = Pipeline::builder()
        .hedge(
            Hedge::builder(HedgeDelay::Quantile {
                quantile: f64::MIN_POSITIVE,
                min: Duration::ZERO,
                max: Duration::MAX,
            })
            .build()
            .unwrap(),
        )
        .retry(
            Retry::builder("")
                .max_attempts(3)
                .max_elapsed(Duration::MAX)
                .backoff(Fibonacci::new(Duration::from_nanos(1), Duration::MAX))
                .budget(budget)
                .build()
                .unwrap(),
        )
        .throttle(
            AdaptiveThrottle::builder()
                .k(f64::MAX)
                .window(Duration::from_nanos(1), ThrottleConfig::MAX_BUCKETS)
                .build()
                .unwrap(),
        )
        .breaker(breaker.clone())
        .bulkhead(
            Bulkhead::builder("").max_concurrent(u32::MAX).max_queue(u32::MAX).max_wait(Duration::MAX).build().unwrap(),
        )
        .timeout(Timeout::new(Duration::MAX).unwrap())
        .build();
    assert_eq!(pipeline.call(|| async { Ok::<_, ()>(7) }).await.unwrap(), 7);
    let fallback = Fallback::value(0);
    let r = fallback.call(pipeline.call(|| async { Err::<i32, _>(()) })).await;
    assert_eq!(r.unwrap(), 0);
    assert!(breaker.stats().generation > 0, "the failing call opened the breaker");

    let levels = DegradationManager::builder()
        .level("", f64::MIN_POSITIVE, 0.0, [""])
        .level("\n", 1.0, 1.0, ["\0"])
        .min_dwell(Duration::MAX)
        .watch_breaker(breaker)
        .build()
        .unwrap();
    levels.set_signal("", f64::INFINITY);
    assert_eq!(levels.level(), 2);
    levels.set_signal("", f64::NAN);
    assert_eq!(levels.level(), 2, "held for a minimum dwell of Duration::MAX");
}
