#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The degradation manager follows its breakers by itself and never applies a stale level.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use perfstack_resilience::{CircuitBreaker, DegradationManager, ManualClock};

#[test]
fn a_breaker_state_change_re_evaluates_without_a_manual_call() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder("db")
        .count_window(4)
        .minimum_calls(4)
        .half_open_probes(1)
        .wait_in_open(Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    let changes = Arc::new(AtomicU32::new(0));
    let seen = changes.clone();
    let d = DegradationManager::builder()
        .level("degraded", 0.4, 0.3, ["reports"])
        .level("critical", 0.9, 0.7, ["reports", "search"])
        .watch_breaker(b.clone())
        .min_dwell(Duration::ZERO)
        .clock(clock.clone())
        .on_change(move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    for _ in 0..4 {
        b.try_acquire().unwrap().failure();
    }
    assert_eq!(d.level_name(), "critical", "the breaker opened: no evaluate() needed");
    clock.advance(Duration::from_secs(1));
    let probe = b.try_acquire().unwrap();
    assert_eq!(d.level_name(), "degraded", "half-open is pressure 0.5");
    probe.success();
    assert_eq!(d.level_name(), "normal", "closed again");
    assert_eq!(changes.load(Ordering::SeqCst), 3);
    b.force_open();
    assert!(!d.is_enabled("search"));
}

/// The breaker holds the manager's subscription weakly: once the last manager handle is gone,
/// everything the manager owned (here the `on_change` callback and what it captured) is freed
/// although the watched breaker lives on, and later state changes reach none of it.
#[test]
fn a_dropped_manager_leaves_the_breaker_alone() {
    let b = CircuitBreaker::builder("db").clock(ManualClock::new()).build().unwrap();
    let owned_by_manager = Arc::new(());
    let changes = Arc::new(AtomicU32::new(0));
    let d = DegradationManager::builder()
        .level("degraded", 0.5, 0.3, ["x"])
        .watch_breaker(b.clone())
        .on_change({
            let (owned, changes) = (owned_by_manager.clone(), changes.clone());
            move |_| {
                let _ = &owned;
                changes.fetch_add(1, Ordering::SeqCst);
            }
        })
        .build()
        .unwrap();
    let manager_alive = Arc::downgrade(&owned_by_manager);
    drop(owned_by_manager);
    let second_handle = d.clone();

    b.force_open();
    assert_eq!(changes.load(Ordering::SeqCst), 1, "subscribed while the manager lives");
    drop(d);
    assert!(manager_alive.upgrade().is_some(), "a clone still holds the manager");
    drop(second_handle);
    assert!(manager_alive.upgrade().is_none(), "the breaker kept the dropped manager alive");

    b.force_closed();
    b.force_open();
    b.reset();
    assert_eq!(changes.load(Ordering::SeqCst), 1, "no callback after the manager was dropped");
    assert!(b.try_acquire().is_ok());
}

/// Two signals fall to 0 at the same time from two threads: whatever the interleaving, the
/// final level is normal (an evaluation that read the pressure before the other thread's
/// update must not be applied after it).
#[test]
fn concurrent_evaluations_never_apply_a_stale_level() {
    let d = DegradationManager::builder()
        .level("degraded", 0.4, 0.3, ["x"])
        .level("critical", 0.9, 0.7, ["x", "y"])
        .min_dwell(Duration::ZERO)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let barrier = Arc::new(Barrier::new(2));
    for round in 0..3_000 {
        d.set_signal("a", 1.0);
        d.set_signal("b", 1.0);
        assert_eq!(d.level_name(), "critical");
        let handles: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|name| {
                let (d, barrier) = (d.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    d.set_signal(name, 0.0);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(d.level_name(), "normal", "round {round}: stale level applied at pressure {}", d.pressure());
    }
}
