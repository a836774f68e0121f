//! Admission's clocks are resilience's clocks: one `ManualClock` drives both crates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::any::TypeId;
use std::sync::Arc;
use std::time::Duration;

use perfstack_admission::rate::{Gcra, RateLimit};

#[test]
fn admission_clock_types_are_the_resilience_types() {
    assert_eq!(
        TypeId::of::<perfstack_admission::clock::ManualClock>(),
        TypeId::of::<perfstack_resilience::ManualClock>()
    );
    assert_eq!(
        TypeId::of::<perfstack_admission::clock::TokioClock>(),
        TypeId::of::<perfstack_resilience::TokioClock>()
    );
    assert_eq!(TypeId::of::<dyn perfstack_admission::clock::Clock>(), TypeId::of::<dyn perfstack_resilience::Clock>());
}

#[test]
fn a_resilience_manual_clock_drives_an_admission_rate_limit() {
    let clock = perfstack_resilience::ManualClock::new();
    let limit = RateLimit::with_clock(Gcra::per_second(1.0, 1).unwrap(), Arc::new(clock.clone()));
    limit.check().unwrap();
    assert!(limit.check().is_err());
    clock.advance(Duration::from_secs(1));
    limit.check().unwrap();
}
