//! The overload goals of the crate, asserted on a shorter run of the same deterministic
//! simulation the bench reports (`benches/benches/admission_sim.rs`).
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

#[tokio::test(start_paused = true)]
async fn limit_converges_after_a_step_and_recovers_after_it() {
    let mut sc = Scenario::constant(Strategy::Vegas, 0.5, RUN);
    sc.phases = vec![
        Phase { load: 0.5, duration: Duration::from_secs(5) },
        Phase { load: 1.4, duration: Duration::from_secs(5) },
        Phase { load: 0.5, duration: Duration::from_secs(3) },
    ];
    let r = run(&sc).await.unwrap();
    let (settle, recover) = convergence(&r, 50, 100);
    let trace: Vec<usize> = r.windows[45..110].iter().map(|w| w.limit).collect();
    assert!(settle <= 10, "stable after {settle} windows: {trace:?}");
    assert!(recover <= 5, "recovered after {recover} windows");
}

/// Windows after `step` until the limit stays within ±15 % of its final value for the rest
/// of the phase, and windows after `drop` until a window sheds nothing.
fn convergence(r: &SimReport, step: usize, drop: usize) -> (usize, usize) {
    let limits: Vec<f64> = r.windows[step..drop].iter().map(|w| w.limit as f64).collect();
    let last = limits[limits.len() - 1];
    let settle = (0..limits.len())
        .find(|&i| limits[i..].iter().all(|l| (l - last).abs() <= 0.15 * last))
        .unwrap_or(limits.len());
    let recover = r.windows[drop..].iter().position(|w| w.shed == 0).unwrap_or(usize::MAX);
    (settle, recover)
}
