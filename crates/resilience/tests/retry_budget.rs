#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Retry, backoff schedules and the retry budget.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use backon::BackoffBuilder;
use perfstack_resilience::backoff::{Backoff, BackonSchedule, Constant, DecorrelatedJitter, Exponential, Fibonacci};
use perfstack_resilience::{BudgetConfig, ConfigError, ManualClock, Retry, RetryBudget, RetryConfig, Verdict};
use proptest::prelude::*;

#[test]
fn exponential_ceiling_matches_backon() {
    let ours = Exponential::new(Duration::from_millis(10), Duration::from_secs(2)).without_jitter();
    let theirs = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(10))
        .with_max_delay(Duration::from_secs(2))
        .with_max_times(12)
        .build();
    // backon multiplies in f32; equal to within a microsecond.
    for (a, b) in ours.delays().take(12).zip(theirs) {
        assert!(a.abs_diff(b) < Duration::from_micros(1), "{a:?} vs {b:?}");
    }
}

#[test]
fn fibonacci_matches_backon() {
    let ours = Fibonacci::new(Duration::from_millis(10), Duration::from_secs(1));
    let theirs = backon::FibonacciBuilder::default()
        .with_min_delay(Duration::from_millis(10))
        .with_max_delay(Duration::from_secs(1))
        .with_max_times(12)
        .build();
    // Equal below the cap; backon can overshoot its max once (1.44 s for a 1 s cap), ours caps.
    for (a, b) in ours.delays().take(12).zip(theirs) {
        assert_eq!(a, b.min(Duration::from_secs(1)));
    }
}

#[test]
fn backon_builder_as_schedule_and_ours_as_backon() {
    let s =
        BackonSchedule::new(backon::ConstantBuilder::default().with_delay(Duration::from_millis(3)).with_max_times(2));
    assert_eq!(s.delays().collect::<Vec<_>>(), vec![Duration::from_millis(3); 2]);
    // Our iterator is a backon::Backoff (it is a BackoffBuilder by blanket impl).
    let b = Constant::new(Duration::from_millis(1)).max_retries(3).delays().build();
    assert_eq!(b.count(), 3);
}

proptest! {
    #[test]
    fn full_jitter_stays_under_the_ceiling(seed in any::<u64>(), attempt in 1u32..40) {
        let s = Exponential::new(Duration::from_millis(5), Duration::from_secs(30)).with_jitter_seed(seed);
        let d = s.delay(attempt).unwrap();
        prop_assert!(d <= s.ceiling(attempt));
        prop_assert!(s.ceiling(attempt) <= Duration::from_secs(30));
    }

    #[test]
    fn decorrelated_stays_within_bounds(seed in any::<u64>(), n in 1usize..60) {
        let s = DecorrelatedJitter::new(Duration::from_millis(5), Duration::from_secs(3)).with_jitter_seed(seed);
        let mut prev = Duration::from_millis(5);
        for d in s.delays().take(n) {
            prop_assert!(d >= Duration::from_millis(5) && d <= Duration::from_secs(3));
            prop_assert!(d <= (prev * 3).max(Duration::from_millis(5)));
            prev = d;
        }
    }

    /// The budget never allows more than ratio × deposits + reserve withdrawals in a window.
    #[test]
    fn budget_never_overshoots(ratio in 0.01f64..2.0, min in 0u32..5, deposits in 0u32..500, tries in 0u32..2000) {
        let budget = RetryBudget::builder().ratio(ratio).min_per_second(min).window(Duration::from_secs(10), 10).clock(ManualClock::new()).build().unwrap();
        for _ in 0..deposits { budget.deposit(); }
        let granted = (0..tries).filter(|_| budget.try_withdraw()).count() as f64;
        let bound = ratio * f64::from(deposits) + f64::from(min) * 10.0 + 1.0;
        prop_assert!(granted <= bound, "granted {} > bound {}", granted, bound);
    }
}

#[test]
fn budget_refills_as_the_window_slides() {
    let clock = ManualClock::new();
    let budget = RetryBudget::builder()
        .ratio(0.5)
        .min_per_second(0)
        .window(Duration::from_secs(10), 10)
        .clock(clock.clone())
        .build()
        .unwrap();
    for _ in 0..10 {
        budget.deposit();
    }
    assert_eq!((0..10).filter(|_| budget.try_withdraw()).count(), 5);
    // 10 s later both the deposits and the withdrawals have left the window.
    clock.advance(Duration::from_secs(10));
    assert!(!budget.try_withdraw());
    for _ in 0..4 {
        budget.deposit();
    }
    assert_eq!((0..10).filter(|_| budget.try_withdraw()).count(), 2);
}

#[test]
fn concurrent_withdrawals_never_overshoot() {
    let budget = RetryBudget::builder().ratio(0.1).min_per_second(0).clock(ManualClock::new()).build().unwrap();
    for _ in 0..1000 {
        budget.deposit();
    }
    let granted = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..8)
        .map(|_| {
            let (b, g) = (budget.clone(), granted.clone());
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    if b.try_withdraw() {
                        g.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(granted.load(Ordering::SeqCst), 100);
}

#[test]
fn invalid_budget_and_retry_settings_are_refused() {
    let bad = |c: BudgetConfig| RetryBudget::from_config(&c).unwrap_err();
    assert!(matches!(bad(BudgetConfig { ratio: f64::NAN, ..Default::default() }), ConfigError::OutOfRange { .. }));
    assert!(matches!(bad(BudgetConfig { ratio: -1.0, ..Default::default() }), ConfigError::OutOfRange { .. }));
    assert!(matches!(bad(BudgetConfig { slots: 0, ..Default::default() }), ConfigError::Zero { .. }));
    assert!(matches!(
        bad(BudgetConfig { window: Duration::ZERO, ..Default::default() }),
        ConfigError::ZeroDuration { .. }
    ));
    let r = Retry::from_config("x", RetryConfig { max_attempts: 0, ..Default::default() }, None).unwrap_err();
    assert!(matches!(r, ConfigError::Zero { .. }));
}

#[tokio::test(start_paused = true)]
async fn retry_sleeps_the_schedule_and_stops_at_max_attempts() {
    let retry = Retry::builder("r").max_attempts(4).backoff(Constant::new(Duration::from_millis(100))).build().unwrap();
    let calls = AtomicU32::new(0);
    let t0 = tokio::time::Instant::now();
    let r: Result<(), &str> = retry
        .call(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err("no")
        })
        .await;
    assert_eq!(r, Err("no"));
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(t0.elapsed(), Duration::from_millis(300));
    assert_eq!(retry.stats().retries, 3);
}

#[tokio::test(start_paused = true)]
async fn retry_after_hint_wins_over_the_schedule() {
    let retry = Retry::builder("r").max_attempts(2).backoff(Constant::new(Duration::from_millis(100))).build().unwrap();
    let t0 = tokio::time::Instant::now();
    let _ =
        retry.call_if(|_: &&str| Verdict::RetryAfter(Duration::from_secs(3)), || async { Err::<(), _>("429") }).await;
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn retry_stops_at_max_elapsed() {
    let retry = Retry::builder("r")
        .max_attempts(100)
        .max_elapsed(Duration::from_millis(350))
        .backoff(Constant::new(Duration::from_millis(100)))
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let _ = retry
        .call(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(())
        })
        .await;
    // tries at 0, 100, 200, 300; the next would start at 400 > 350.
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn retry_if_predicate_stops_on_permanent_errors() {
    let retry = Retry::builder("r").max_attempts(5).backoff(Constant::new(Duration::from_millis(1))).build().unwrap();
    let calls = AtomicU32::new(0);
    let _ = retry
        .call_if(
            |e: &u16| if *e >= 500 { Verdict::Retry } else { Verdict::Stop },
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), u16>(400)
            },
        )
        .await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// Regression: retries waiting out their backoff must already count against the budget. With
/// 100 concurrent failing calls and a long backoff, a check-when-firing budget would let every
/// one of them schedule a retry; ours grants only what the budget holds.
#[tokio::test(start_paused = true)]
async fn retries_in_backoff_count_against_the_budget() {
    let budget =
        RetryBudget::builder().ratio(0.1).min_per_second(0).window(Duration::from_secs(60), 10).build().unwrap();
    let retry = Retry::builder("r")
        .max_attempts(3)
        .backoff(Constant::new(Duration::from_secs(5)))
        .budget(budget.clone())
        .build()
        .unwrap();
    let attempts = Arc::new(AtomicU32::new(0));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (retry, attempts) = (retry.clone(), attempts.clone());
        tasks.push(tokio::spawn(async move {
            retry
                .call(|| {
                    let a = attempts.clone();
                    async move {
                        a.fetch_add(1, Ordering::SeqCst);
                        Err::<(), _>(())
                    }
                })
                .await
        }));
    }
    // Let every task make its first attempt and decide; all are now in backoff or done.
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(attempts.load(Ordering::SeqCst), 100);
    assert_eq!(budget.stats().withdrawals, 10, "10 % of 100 requests, reserved while sleeping");
    assert_eq!(budget.stats().available, 0);
    for t in tasks {
        let _ = t.await;
    }
    assert_eq!(attempts.load(Ordering::SeqCst), 110);
}

#[tokio::test(start_paused = true)]
async fn coarse_clock_follows_paused_time_and_drives_the_budget() {
    use perfstack_resilience::{Clock, CoarseClock};
    let clock = CoarseClock::spawn(Duration::from_millis(10)).unwrap();
    let budget = RetryBudget::builder()
        .ratio(1.0)
        .min_per_second(0)
        .window(Duration::from_secs(1), 10)
        .clock(clock.clone())
        .build()
        .unwrap();
    budget.deposit();
    tokio::time::sleep(Duration::from_millis(505)).await;
    assert!(clock.now_nanos() >= 490_000_000 && clock.now_nanos() <= 505_000_000);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!budget.try_withdraw(), "the deposit left the 1 s window");
    assert!(CoarseClock::spawn(Duration::ZERO).is_err());
}

#[test]
fn coarse_clock_outside_a_runtime_is_an_error() {
    assert!(matches!(perfstack_resilience::CoarseClock::spawn(Duration::from_millis(1)), Err(ConfigError::NoRuntime)));
}
