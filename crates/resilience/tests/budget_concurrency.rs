#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The retry budget under concurrency while the window slides: no interleaving of deposits,
//! withdrawals and slot rotation may create tokens.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use perfstack_resilience::{ManualClock, RetryBudget};
use proptest::prelude::*;

/// Runs `threads` workers that deposit once and try to withdraw `tries` times per round, while
/// one more thread advances the clock by `step` per round; returns (deposits, granted).
fn stress(
    ratio: f64,
    min_per_second: u32,
    threads: usize,
    rounds: u64,
    tries: u32,
    step: Duration,
    slots: u32,
) -> (u64, u64, u64) {
    let clock = ManualClock::new();
    let budget = RetryBudget::builder()
        .ratio(ratio)
        .min_per_second(min_per_second)
        .window(Duration::from_millis(u64::from(slots)), slots)
        .clock(clock.clone())
        .build()
        .unwrap();
    let deposits = Arc::new(AtomicU64::new(0));
    let granted = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(threads + 1));
    let mut workers = Vec::new();
    for _ in 0..threads {
        let (budget, deposits, granted, start) = (budget.clone(), deposits.clone(), granted.clone(), start.clone());
        workers.push(std::thread::spawn(move || {
            start.wait();
            for _ in 0..rounds {
                budget.deposit();
                deposits.fetch_add(1, Ordering::Relaxed);
                for _ in 0..tries {
                    if budget.try_withdraw() {
                        granted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let ticker = {
        let (clock, stop, start) = (clock.clone(), stop.clone(), start.clone());
        std::thread::spawn(move || {
            start.wait();
            let mut steps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                clock.advance(step);
                steps += 1;
                std::thread::yield_now();
            }
            steps
        })
    };
    for w in workers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    ticker.join().unwrap();
    let elapsed = clock_nanos(&clock);
    // Quiesce and let every slot expire: the ledger must come back to exactly empty, so the
    // next 100 deposits buy exactly ratio × 100 retries (drift in either direction is a bug).
    clock.advance(Duration::from_millis(3 * u64::from(slots)));
    for _ in 0..100 {
        budget.deposit();
    }
    let after = (0..100_000).take_while(|_| budget.try_withdraw()).count() as f64;
    let expect = (100.0 * ratio).floor() + f64::from(min_per_second) * f64::from(slots) / 1000.0;
    assert!(
        (after - expect).abs() < 1.0,
        "ledger drifted (ratio {ratio}, step {step:?}, slots {slots}): {after} retries granted after expiry, expected {expect}; stats {:?}",
        budget.stats()
    );
    (deposits.load(Ordering::Relaxed), granted.load(Ordering::Relaxed), elapsed)
}

fn clock_nanos(clock: &ManualClock) -> u64 {
    use perfstack_resilience::Clock;
    clock.now_nanos()
}

/// With no per-second minimum, every granted retry must be paid for by deposits: granted ≤
/// ratio × deposits, exactly (tolerance 0), however the rotation interleaves with the callers.
#[test]
fn concurrent_rotation_never_creates_tokens() {
    for (ratio, tries, step, slots) in [(10.0, 12, 999, 1000), (10.0, 12, 97, 10), (0.5, 3, 10, 10), (2.0, 3, 23, 10)] {
        let (deposits, granted, _) = stress(ratio, 0, 8, 50_000, tries, Duration::from_millis(step), slots);
        let allowed = (deposits as f64 * ratio).floor() as u64;
        assert!(granted <= allowed, "ratio {ratio}: granted {granted} > allowed {allowed} from {deposits} deposits");
        assert!(granted > 0, "the budget must grant something");
    }
}

/// With a per-second minimum, granted ≤ ratio × deposits + min × (elapsed + window).
#[test]
fn concurrent_rotation_respects_the_reserve() {
    let (deposits, granted, elapsed) = stress(0.2, 50, 8, 20_000, 3, Duration::from_millis(2), 100);
    let window = 0.1; // 100 slots of 1 ms
    let allowed = (deposits as f64 * 0.2 + 50.0 * (elapsed as f64 / 1e9 + window)).floor() as u64;
    assert!(granted <= allowed, "granted {granted} > allowed {allowed}");
}

#[derive(Debug, Clone)]
enum Op {
    Deposit,
    Withdraw,
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Deposit),
        4 => Just(Op::Withdraw),
        1 => (0u64..40_000_000).prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Sequential model check: the budget grants exactly when the sliding-window ledger of the
    /// model (deposits minus withdrawals of the last `slots` ticks, plus the reserve) covers a
    /// retry, whatever the clock does between operations.
    #[test]
    fn budget_matches_sliding_window_model(ops in proptest::collection::vec(op(), 1..400), ratio in 0.05f64..2.0, min in 0u32..3) {
        let clock = ManualClock::new();
        let slot = 10_000_000u64; // 100 ms window / 10 slots
        let budget = RetryBudget::builder().ratio(ratio).min_per_second(min).window(Duration::from_millis(100), 10).clock(clock.clone()).build().unwrap();
        let unit = 1_000i64;
        let w = ((unit as f64) / ratio).ceil().max(1.0) as i64;
        let reserve = (f64::from(min) * 0.1 * w as f64) as i64;
        let mut now = 0u64;
        let mut ledger: Vec<(u64, i64)> = Vec::new();
        for o in ops {
            match o {
                Op::Advance(d) => { now += d; clock.advance(Duration::from_nanos(d)); }
                Op::Deposit => { budget.deposit(); ledger.push((now / slot, unit)); }
                Op::Withdraw => {
                    let tick = now / slot;
                    let live: i64 = ledger.iter().filter(|(t, _)| t + 10 > tick).map(|(_, v)| v).sum();
                    let expect = live + reserve >= w;
                    prop_assert_eq!(budget.try_withdraw(), expect);
                    if expect { ledger.push((tick, -w)); }
                }
            }
        }
    }
}
