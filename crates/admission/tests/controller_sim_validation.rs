//! `sim::run` refuses nonsense scenarios with a typed error instead of panicking or looping.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use perfstack_admission::sim::{run, Phase, Scenario, ScenarioError, ServiceTime, Strategy};

fn base() -> Scenario {
    Scenario::constant(Strategy::Vegas, 1.0, Duration::from_secs(1))
}

fn refused(sc: &Scenario, field: &str) {
    let err = sc.validate().expect_err("scenario must be refused");
    match &err {
        ScenarioError::Invalid { field: f, .. } => assert_eq!(f, field, "{err}"),
        other => panic!("expected Invalid for {field}, got {other:?}"),
    }
}

fn with_load(load: f64) -> Scenario {
    let mut sc = base();
    sc.phases = vec![Phase { load, duration: Duration::from_secs(1) }];
    sc
}

#[test]
fn nan_negative_and_infinite_loads_are_refused() {
    for load in [f64::NAN, -1.0, f64::INFINITY, f64::NEG_INFINITY, 1e6] {
        refused(&with_load(load), "phases[0].load");
    }
    assert!(with_load(0.0).validate().is_ok());
}

#[test]
fn bad_phases_and_times_are_refused() {
    let mut sc = base();
    sc.phases.clear();
    refused(&sc, "phases");
    let mut sc = base();
    sc.phases = vec![Phase { load: 1.0, duration: Duration::ZERO }];
    sc.warmup = Duration::ZERO;
    refused(&sc, "phases");
    let mut sc = base();
    sc.phases = vec![Phase { load: 1.0, duration: Duration::MAX }, Phase { load: 1.0, duration: Duration::MAX }];
    refused(&sc, "phases");
    let mut sc = base();
    sc.warmup = Duration::from_secs(1);
    refused(&sc, "warmup");
    let mut sc = base();
    sc.deadline = Duration::ZERO;
    refused(&sc, "deadline");
    let mut sc = base();
    sc.deadline = Duration::MAX;
    refused(&sc, "deadline");
    let mut sc = base();
    sc.phases = vec![Phase { load: 1_000.0, duration: Duration::from_secs(80_000) }];
    sc.server.workers = 1_000_000;
    refused(&sc, "phases");
}

#[test]
fn bad_server_models_are_refused() {
    let mut sc = base();
    sc.server.workers = 0;
    refused(&sc, "server.workers");
    let zero = ServiceTime::Exponential { base: Duration::ZERO, extra_mean: Duration::ZERO };
    let huge = |base, extra_mean| ServiceTime::Exponential { base, extra_mean };
    let cap = Duration::from_secs(1);
    let ms = Duration::from_millis;
    for (service, field) in [
        (zero, "server.service"),
        (huge(Duration::MAX, ms(1)), "server.service.base"),
        (huge(ms(1), Duration::MAX), "server.service.extra_mean"),
        (ServiceTime::Bimodal { fast: ms(2), slow: ms(50), slow_share: f64::NAN }, "server.service.slow_share"),
        (ServiceTime::Bimodal { fast: ms(2), slow: ms(50), slow_share: -0.1 }, "server.service.slow_share"),
        (ServiceTime::Bimodal { fast: ms(2), slow: ms(50), slow_share: 1.5 }, "server.service.slow_share"),
        (ServiceTime::Bimodal { fast: ms(2), slow: Duration::MAX, slow_share: 0.1 }, "server.service.slow"),
        (ServiceTime::LogNormal { median: ms(4), sigma: f64::INFINITY, max: cap }, "server.service.sigma"),
        (ServiceTime::LogNormal { median: ms(4), sigma: 0.0, max: cap }, "server.service.sigma"),
        (ServiceTime::LogNormal { median: Duration::ZERO, sigma: 1.0, max: cap }, "server.service"),
        (ServiceTime::LogNormal { median: ms(4), sigma: 1.0, max: ms(1) }, "server.service.max"),
        (ServiceTime::Pareto { scale: ms(2), shape: 1.0, max: cap }, "server.service.shape"),
        (ServiceTime::Pareto { scale: ms(2), shape: f64::NAN, max: cap }, "server.service.shape"),
        (ServiceTime::Pareto { scale: ms(2), shape: 1.5, max: Duration::MAX }, "server.service.max"),
    ] {
        let mut sc = base();
        sc.server.service = service;
        refused(&sc, field);
    }
}

#[test]
fn bad_mixes_are_refused() {
    for (mix, field) in [
        ([f64::NAN, 1.0, 0.0, 0.0, 0.0], "mix[0]"),
        ([0.0, -0.5, 1.5, 0.0, 0.0], "mix[1]"),
        ([0.0, 1.0, f64::INFINITY, 0.0, 0.0], "mix[2]"),
        ([0.0, 0.5, 0.0, 0.0, 0.0], "mix"),
        ([0.0; 5], "mix"),
    ] {
        let mut sc = base();
        sc.mix = mix;
        refused(&sc, field);
    }
}

/// A load of −0.0 passes `load < 0.0` and is a valid idle phase; its arrival gap was
/// 1 / (−0.0 × C) = −∞, which panicked converting a negative time to a `Duration`.
#[tokio::test(start_paused = true)]
async fn a_phase_at_negative_zero_load_is_idle_not_a_panic() {
    let mut sc = with_load(-0.0);
    sc.phases.push(Phase { load: 0.5, duration: Duration::from_secs(1) });
    let r = run(&sc).await.unwrap();
    assert!(r.windows[..10].iter().all(|w| w.offered == 0), "the idle phase offered requests");
    assert!(r.goodput() > 0.0);
}

#[tokio::test(start_paused = true)]
async fn run_returns_the_error_instead_of_panicking() {
    let err = run(&with_load(f64::NAN)).await.expect_err("NaN load must be refused");
    assert!(err.to_string().contains("phases[0].load"), "{err}");
    let err = run(&with_load(-2.0)).await.expect_err("negative load must be refused");
    assert!(matches!(err, ScenarioError::Invalid { .. }));
    let err = run(&Scenario::constant(Strategy::Static(0), 1.0, Duration::from_secs(1))).await.unwrap_err();
    assert!(matches!(err, ScenarioError::Config(_)), "{err:?}");
}
