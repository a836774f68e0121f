//! The real-time twin of the overload simulation (TESTING.md §4, decision 0038): the same
//! open-loop generator, server and controller as `perfstack_admission::sim`, on a runtime with
//! the real clock, so the server's handler really sleeps. In-process (no sockets), bounded in
//! time (a few seconds per cell) and in count (at most 10× capacity × the cell's length).
//!
//! The server has 8 slots and spread-out service times (bimodal: 90 % at 2 ms, 10 % at 50 ms;
//! heavy-tailed: Pareto from 2 ms, tail index 1.5, capped at 1 s); clients give up after
//! 500 ms. Goodput is measured against the server's *measured* capacity: 8 handlers sleeping
//! back to back on the same runtime for as long as a cell, which includes the timer's rounding
//! (tokio sleeps wake on 1 ms ticks), so the analytic capacity would flatter every row.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use perfstack_admission::sim::{run, Scenario, ServerModel, ServiceTime, SplitMix64, Strategy};
use perfstack_admission::PriorityShares;
use perfstack_benches::{quick, record, write_section, Figure, Goal, Measure};
use tokio::runtime::Runtime;

const WORKERS: usize = 8;
const LOADS: [f64; 3] = [2.0, 5.0, 10.0];
const DEADLINE: Duration = Duration::from_millis(500);

/// One cell's goodput (requests answered within the deadline per second) over the measured
/// capacity, and the critical class's when the mix has one.
struct Cell {
    goodput: f64,
    critical: f64,
}

/// Requests per second that `WORKERS` handlers complete sleeping back to back for `length`.
async fn measure_capacity(service: ServiceTime, length: Duration) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let start = tokio::time::Instant::now();
    let until = start + length;
    let handlers: Vec<_> = (0..WORKERS as u64)
        .map(|i| {
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                let mut rng = SplitMix64::new(100 + i);
                while tokio::time::Instant::now() < until {
                    tokio::time::sleep(service.draw(&mut rng)).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in handlers {
        let _ = h.await;
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// One cell: `load` × the measured capacity offered for `length` (the first `warmup` not counted).
async fn cell(service: ServiceTime, strategy: Strategy, load: f64, capacity: f64, critical: bool) -> Cell {
    let (length, warmup) = if quick() { (3, 1) } else { (8, 2) };
    let server = ServerModel { workers: WORKERS, service };
    let mut sc = Scenario::constant(strategy, load * capacity / server.capacity(), Duration::from_secs(length));
    sc.server = server;
    sc.warmup = Duration::from_secs(warmup);
    sc.deadline = DEADLINE;
    if critical {
        sc.mix = [0.0, 0.8, 0.0, 0.0, 0.2];
        sc.shares = PriorityShares::default();
    }
    let r = run(&sc).await.expect("a valid scenario");
    Cell { goodput: r.goodput() / capacity, critical: r.classes[4].ok as f64 / r.measured_secs / capacity }
}

fn strategies() -> [Strategy; 4] {
    [Strategy::Aimd, Strategy::Vegas, Strategy::Gradient2, Strategy::Static(WORKERS)]
}

/// Runs every shape and strategy, records the figures and writes the section's table.
pub(crate) fn realtime_load() {
    let rt: Runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let length = Duration::from_secs(if quick() { 3 } else { 8 });
    let mut md = String::new();
    let _ = writeln!(md, "### Real time: spread-out service times on 8 slots (bounded load run)\n");
    let _ = writeln!(
        md,
        "The overload simulation's generator, server and controller on a runtime with the real clock: the \
         handler really sleeps; open-loop Poisson arrivals, latency from the scheduled start, 500 ms client \
         deadline, {} s per cell (the first {} s not counted). Goodput and the offered load are relative to \
         the capacity measured in the same run (8 handlers sleeping back to back). Critical: 20 % critical \
         traffic at 10× (critical alone offers 2×), default priority reserves. Goal: every adaptive limit ≥ 0.9.\n",
        length.as_secs(),
        if quick() { 1 } else { 2 },
    );
    let _ = writeln!(md, "| service | measured C | limit | 2× | 5× | 10× | critical at 10× |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for (shape, service) in [("bimodal", ServiceTime::bimodal_2ms_50ms()), ("Pareto", ServiceTime::pareto_2ms())] {
        let capacity = rt.block_on(measure_capacity(service, length));
        let mut rows = Vec::new();
        for s in strategies() {
            let cells: Vec<Cell> =
                LOADS.iter().map(|&l| rt.block_on(cell(service, s.clone(), l, capacity, false))).collect();
            let critical = rt.block_on(cell(service, s.clone(), 10.0, capacity, true)).critical;
            let _ = writeln!(
                md,
                "| {} | {capacity:.0} req/s | {} | {:.3} | {:.3} | {:.3} | {critical:.3} |",
                service.label(),
                s.label(),
                cells[0].goodput,
                cells[1].goodput,
                cells[2].goodput,
            );
            rows.push((s, cells, critical));
        }
        let baseline = rows.iter().find(|(s, ..)| matches!(s, Strategy::Static(_))).map(|(_, c, k)| (worst(c), *k));
        for (s, cells, critical) in &rows {
            if matches!(s, Strategy::Static(_)) {
                continue;
            }
            let each: Vec<String> = cells.iter().map(|c| format!("{:.3}", c.goodput)).collect();
            fig(
                &format!("{} goodput at 2×/5×/10×, {shape} service, real time (worst of the three)", s.label()),
                "ratio of C",
                worst(cells),
                baseline.map(|b| b.0),
                &format!("{} on 2×/5×/10×; measured C = {capacity:.0} req/s; baseline: static limit 8 (the slots) in the same run", each.join(" / ")),
            );
            fig(
                &format!("{} critical goodput, 20 % critical at 10×, {shape} service, real time", s.label()),
                "ratio of C",
                *critical,
                baseline.map(|b| b.1),
                "critical alone offers 2× capacity, so C is the most it can get; baseline: static limit 8",
            );
        }
    }
    if let Err(e) = write_section("admission", "20-realtime", &md) {
        println!("admission: {e}");
    }
    println!("{md}");
}

fn worst(cells: &[Cell]) -> f64 {
    cells.iter().map(|c| c.goodput).fold(f64::INFINITY, f64::min)
}

fn fig(figure: &str, unit: &str, value: f64, baseline: Option<f64>, note: &str) {
    record(&Figure {
        krate: "admission".into(),
        figure: figure.into(),
        unit: unit.into(),
        value: Measure::Value(value),
        baseline: baseline.map(Measure::Value),
        goal: Goal::AtLeast(0.9),
        note: note.into(),
    });
}
