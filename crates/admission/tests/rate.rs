//! GCRA rate limits: same decisions as governor, peek, bounded keys, bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::FakeRelativeClock;
use governor::{Quota, RateLimiter};
use perfstack_admission::clock::ManualClock;
use perfstack_admission::rate::*;
use perfstack_admission::ConfigError;
use proptest::prelude::*;

proptest! {
    #[test]
    fn decisions_match_governor(burst in 1u32..20, per_ms in 1u64..50, steps in prop::collection::vec(0u64..20_000_000, 1..200)) {
        let quota = Quota::with_period(Duration::from_micros(per_ms * 100)).unwrap().allow_burst(NonZeroU32::new(burst).unwrap());
        let gclock = FakeRelativeClock::default();
        let gov = RateLimiter::direct_with_clock(quota, gclock.clone());
        let clock = ManualClock::default();
        let ours = RateLimit::with_clock(Gcra::from_quota(quota).unwrap(), Arc::new(clock.clone()));
        for step in steps {
            gclock.advance(Duration::from_nanos(step));
            clock.advance(Duration::from_nanos(step));
            let peeked = ours.peek().is_ok();
            let a = gov.check().is_ok();
            let b = ours.check().is_ok();
            prop_assert_eq!(a, b);
            prop_assert_eq!(peeked, b);
        }
    }
}

#[test]
fn peek_does_not_consume() {
    let clock = ManualClock::default();
    let l = RateLimit::with_clock(Gcra::per_second(1.0, 1).unwrap(), Arc::new(clock.clone()));
    for _ in 0..10 {
        assert!(l.peek().is_ok());
    }
    assert!(l.check().is_ok());
    let err = l.peek().unwrap_err();
    assert_eq!(err.retry_after, Duration::from_secs(1));
    clock.advance(Duration::from_millis(400));
    assert_eq!(l.check().unwrap_err().retry_after, Duration::from_millis(600));
}

#[test]
fn clones_share_one_bucket() {
    let l = RateLimit::with_clock(Gcra::per_second(1.0, 3).unwrap(), Arc::new(ManualClock::default()));
    let clones: Vec<_> = (0..3).map(|_| l.clone()).collect();
    for c in &clones {
        c.check().unwrap();
    }
    assert!(l.check().is_err());
}

#[test]
fn bad_quotas_are_refused_at_build_time() {
    assert!(matches!(Gcra::per_second(0.0, 1), Err(ConfigError::NotPositive { .. })));
    assert!(matches!(Gcra::per_second(-5.0, 1), Err(ConfigError::NotPositive { .. })));
    assert!(matches!(Gcra::per_second(f64::NAN, 1), Err(ConfigError::NotPositive { .. })));
    assert!(matches!(Gcra::per_second(f64::INFINITY, 1), Err(ConfigError::NotPositive { .. })));
    assert!(matches!(Gcra::per_second(10.0, 0), Err(ConfigError::NotPositive { .. })));
    assert!(matches!(Gcra::per_second(10.0, u64::MAX), Err(ConfigError::AbsurdBurst { .. })));
    assert!(matches!(Gcra::per_second(1e-12, 1), Err(ConfigError::Interval(_))));
    assert!(matches!(KeyedRateLimit::builder(10.0, 1).max_keys(0).build::<String>(), Err(ConfigError::MaxKeys { .. })));
    assert!(matches!(
        KeyedRateLimit::builder(10.0, 1).max_keys(usize::MAX).build::<String>(),
        Err(ConfigError::MaxKeys { .. })
    ));
}

#[test]
fn key_memory_stays_bounded_under_churn() {
    let clock = ManualClock::default();
    let l: KeyedRateLimit =
        KeyedRateLimit::builder(1.0, 5).max_keys(1000).clock(Arc::new(clock.clone())).build().unwrap();
    for i in 0..100_000 {
        l.check(format!("client-{i}").as_str()).unwrap();
        assert!(l.len() <= 1000);
        if i % 1000 == 0 {
            clock.advance(Duration::from_millis(1));
        }
    }
    assert!(l.len() <= 1000);
}

#[test]
fn stale_keys_are_forgotten_without_changing_decisions() {
    let clock = ManualClock::default();
    let l: KeyedRateLimit = KeyedRateLimit::builder(10.0, 2).clock(Arc::new(clock.clone())).build().unwrap();
    l.check("a").unwrap();
    l.check("b").unwrap();
    l.check("b").unwrap();
    assert!(l.check("b").is_err());
    clock.advance(Duration::from_millis(150)); // "a" is full again, "b" is not
    l.retain_recent();
    assert_eq!(l.len(), 1);
    assert!(l.peek("a").is_ok());
    l.check("b").unwrap();
    assert!(l.check("b").is_err());
}

/// A request its tenant's limit refuses spends no cell of the global limit: an abusive tenant
/// cannot use up the global quota its own limit already refuses it.
#[tokio::test(start_paused = true)]
async fn a_tenant_refused_by_its_keyed_limit_spends_no_global_cell() {
    use perfstack_admission::{AdmissionController, Priority, RejectReason, RequestMeta};
    let ctl = AdmissionController::builder()
        .fixed_limit(1000)
        .rate_limit(RateLimit::per_second(10.0, 10).unwrap())
        .keyed_rate_limit(KeyedRateLimit::builder(1.0, 1).build().unwrap())
        .build()
        .unwrap();
    let abuser: Vec<_> = (0..12)
        .map(|_| ctl.try_acquire(&RequestMeta::new(Priority::Normal).key("abuser")).map(drop).map_err(|e| e.reason))
        .collect();
    assert_eq!(abuser[0], Ok(()));
    assert!(abuser[1..].iter().all(|r| *r == Err(RejectReason::Rate)), "{abuser:?}");
    // One global cell spent (the abuser's admitted request): nine are left for the others.
    for i in 0..9 {
        let tenant = format!("innocent-{i}");
        assert!(ctl.try_acquire(&RequestMeta::new(Priority::Normal).key(&tenant)).is_ok(), "tenant {i}");
    }
    let err = ctl.try_acquire(&RequestMeta::new(Priority::Normal).key("one-more")).unwrap_err();
    assert_eq!(err.reason, RejectReason::Rate, "the global burst of 10 is spent now");
}

/// `max_keys` bounds all keys together, not each shard: with exactly `max_keys` live keys none
/// is forgotten (a forgotten key would come back with a full burst and be admitted again).
#[test]
fn no_live_key_is_evicted_while_the_total_fits_in_max_keys() {
    for max_keys in [1, 2, 3, 10, 16, 17, 40, 100] {
        let clock = ManualClock::default();
        let l: KeyedRateLimit =
            KeyedRateLimit::builder(1.0, 1).max_keys(max_keys).clock(Arc::new(clock.clone())).build().unwrap();
        let keys: Vec<String> = (0..max_keys).map(|i| format!("route-{i}")).collect();
        let mut admitted = 0;
        for _round in 0..5 {
            admitted += keys.iter().filter(|k| l.check(k.as_str()).is_ok()).count();
        }
        assert_eq!(admitted, max_keys, "max_keys {max_keys}: each key's burst of 1, once");
        assert_eq!(l.len(), max_keys);
    }
}
