//! The overload goals of the crate, asserted on a shorter run of the same deterministic
//! simulation the bench reports (`benches/benches/admission_sim.rs`).
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use perfstack_admission::sim::{run, Phase, Scenario, SimReport, Strategy};
use perfstack_admission::PriorityShares;

const RUN: Duration = Duration::from_secs(10);

async fn at(strategy: Strategy, load: f64) -> SimReport {
    run(&Scenario::constant(strategy, load, RUN)).await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn adaptive_limits_keep_goodput_and_latency_under_overload() {
    let unloaded = at(Strategy::NoControl, 0.2).await.percentile_ms(0.99);
    for (load, min_goodput, max_p99) in [(2.0, 0.95, 2.0), (5.0, 0.90, 3.0)] {
        // Without control the server collapses: almost nothing is answered within 1 s.
        assert!(at(Strategy::NoControl, load).await.goodput_ratio() < 0.1);
        let tuned = at(Strategy::Static(24), load).await;
        for s in [Strategy::Vegas, Strategy::Gradient2, Strategy::Aimd] {
            let r = at(s.clone(), load).await;
            let label = s.label();
            assert!(r.goodput_ratio() >= min_goodput, "{label} at {load}x: goodput {}", r.goodput_ratio());
            assert!(
                r.percentile_ms(0.99) <= max_p99 * unloaded,
                "{label} at {load}x: p99 {} vs {unloaded}",
                r.percentile_ms(0.99)
            );
            assert!(r.goodput() >= 0.95 * tuned.goodput(), "{label} at {load}x vs static");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn critical_traffic_keeps_its_goodput_at_twice_capacity() {
    let unloaded = at(Strategy::NoControl, 0.2).await.percentile_ms(0.99);
    let mut sc = Scenario::constant(Strategy::Vegas, 2.0, RUN);
    sc.mix = [0.175, 0.175, 0.175, 0.175, 0.30];
    sc.shares = PriorityShares::default();
    let r = run(&sc).await.unwrap();
    let critical = &r.classes[4];
    assert!(critical.goodput_ratio() >= 0.99, "critical goodput {}", critical.goodput_ratio());
    assert!(
        critical.percentile_ms(0.99) <= 1.5 * unloaded,
        "critical p99 {} vs {unloaded}",
        critical.percentile_ms(0.99)
    );
    // Shed ratio goes down as priority goes up.
    let shed: Vec<f64> = r.classes.iter().map(|c| c.shed_ratio()).collect();
    assert!(shed.windows(2).all(|w| w[0] >= w[1]), "shed ratios {shed:?}");
}

/// Breakwater's scenario: 0.5x -> 1.4x -> 0.5x of capacity, windows of 100 ms.
#[tokio::test(start_paused = true)]
async fn limit_converges_after_a_step_and_recovers_after_it() {
    for s in [Strategy::Vegas, Strategy::Gradient2, Strategy::Aimd] {
        let mut sc = Scenario::constant(s.clone(), 0.5, RUN);
        sc.phases = vec![
            Phase { load: 0.5, duration: Duration::from_secs(5) },
            Phase { load: 1.4, duration: Duration::from_secs(5) },
            Phase { load: 0.5, duration: Duration::from_secs(3) },
        ];
        let r = run(&sc).await.unwrap();
        let c = r.convergence(50, 100, TOLERANCE);
        let label = s.label();
        let trace: Vec<usize> = r.windows[40..110].iter().map(|w| w.limit).collect();
        assert!(c.settle <= 10, "{label}: stable after {} windows: {trace:?}", c.settle);
        assert!(
            c.recover <= 5,
            "{label}: back to {TOLERANCE} below the pre-step limit {} only after {} windows: {trace:?}",
            c.before,
            c.recover
        );
        // Nothing is shed once the load is back under capacity.
        assert!(r.windows[100 + c.recover..130].iter().all(|w| w.shed == 0), "{label}: still shedding: {trace:?}");
    }
}

/// How far from the reference a limit may be and still count as there: ±15 % for "stable",
/// at most 15 % below the pre-step level for "recovered".
const TOLERANCE: f64 = 0.15;
