//! Spread-out service times in the overload simulation (decision 0038): the workload of the
//! real-time load run in `benches/benches/admission/load.rs` (8 slots, bimodal and Pareto
//! service, 500 ms deadline, 2×/5×/10×), in virtual time, deterministic.

use std::fmt::Write as _;
use std::time::Duration;

use perfstack_admission::sim::{run, Scenario, ServerModel, ServiceTime, SimReport, Strategy};
use perfstack_admission::PriorityShares;
use perfstack_benches::{quick, record, Figure, Goal, Measure};

const WORKERS: usize = 8;
const LOADS: [f64; 3] = [2.0, 5.0, 10.0];

async fn cell(service: ServiceTime, strategy: Strategy, load: f64, critical: bool) -> SimReport {
    let mut sc = Scenario::constant(strategy, load, Duration::from_secs(if quick() { 10 } else { 30 }));
    sc.server = ServerModel { workers: WORKERS, service };
    sc.deadline = Duration::from_millis(500);
    if critical {
        sc.mix = [0.0, 0.8, 0.0, 0.0, 0.2];
        sc.shares = PriorityShares::default();
    }
    run(&sc).await.expect("a valid scenario")
}

/// Runs the matrix, records one row per shape and adaptive limit, and returns the section.
pub(crate) async fn spread_out_service_times() -> String {
    let mut md = String::new();
    let _ = writeln!(md, "\n### Spread-out service times on 8 slots (virtual time)\n");
    let _ = writeln!(
        md,
        "The real-time load run's workload, simulated: 8 slots, 500 ms client deadline, goodput / C (analytic \
         capacity); critical: 20 % critical traffic at 10×, default reserves. AIMD here used to hold a limit \
         of 1–2 on the bimodal service (decision 0038).\n"
    );
    let _ = writeln!(md, "| service | limit | 2× | 5× | 10× | critical at 10× | admitted p99 ms at 5× |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    let shapes = [
        ("bimodal", ServiceTime::bimodal_2ms_50ms()),
        ("Pareto", ServiceTime::pareto_2ms()),
        ("lognormal", ServiceTime::lognormal_4ms()),
    ];
    for (shape, service) in shapes {
        let mut rows = Vec::new();
        for s in [Strategy::Aimd, Strategy::Vegas, Strategy::Gradient2, Strategy::Static(WORKERS)] {
            let mut cells = Vec::new();
            for load in LOADS {
                cells.push(cell(service, s.clone(), load, false).await);
            }
            let mixed = cell(service, s.clone(), 10.0, true).await;
            let critical = mixed.classes[4].ok as f64 / mixed.measured_secs / mixed.capacity;
            let g: Vec<f64> = cells.iter().map(SimReport::goodput_ratio).collect();
            let _ = writeln!(
                md,
                "| {} | {} | {:.3} | {:.3} | {:.3} | {critical:.3} | {:.1} |",
                service.label(),
                s.label(),
                g[0],
                g[1],
                g[2],
                cells[1].percentile_ms(0.99)
            );
            rows.push((s, g, critical));
        }
        let base = rows.iter().find(|(s, ..)| matches!(s, Strategy::Static(_))).map(|(_, g, _)| min(g));
        for (s, g, critical) in rows.iter().filter(|(s, ..)| !matches!(s, Strategy::Static(_))) {
            let each: Vec<String> = g.iter().map(|v| format!("{v:.3}")).collect();
            record(&Figure {
                krate: "admission".into(),
                figure: format!(
                    "{} goodput at 2×/5×/10×, {shape} service, virtual time (worst of the three)",
                    s.label()
                ),
                unit: "ratio of C".into(),
                value: Measure::Value(min(g)),
                baseline: base.map(Measure::Value),
                goal: Goal::AtLeast(0.9),
                note: format!(
                    "{} on 2×/5×/10×; critical at 10× {critical:.3}; baseline: static limit 8 (the slots)",
                    each.join(" / ")
                ),
            });
        }
    }
    md
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}
