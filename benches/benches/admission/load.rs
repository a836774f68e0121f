//! The real-time twin of the overload simulation (TESTING.md §4, decision 0038): the same
//! open-loop generator, server and controller as `perfstack_admission::sim`, on a runtime with
//! the real clock, so the server's handler really sleeps. In-process (no sockets), bounded in
//! time (a few seconds per cell) and in count (at most 10× capacity × the cell's length).
//!
//! The server has 8 slots and spread-out service times (bimodal: 90 % at 2 ms, 10 % at 50 ms;
//! heavy-tailed: Pareto from 2 ms, tail index 1.5, capped at 1 s); clients give up after
//! 500 ms. Goodput is measured against the capacity the server showed *in the same cell*: its 8
//! slots over the mean time its handler took for the requests it ran. That includes the timer's
//! rounding (tokio sleeps wake on 1 ms ticks, so the analytic capacity would flatter every row),
//! and a heavy tail's luck cancels: with Pareto service a few long requests move a 2 s cell's
//! mean service time by ±6 %, which a capacity measured apart does not share. That closed-loop
//! capacity (8 handlers sleeping back to back) sets the offered load and is reported beside.

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

/// One cell: goodput (answered within the deadline, per second) over the capacity the server
/// showed in it, overall and for the critical class when the mix has one.
struct Cell {
    goodput: f64,
    critical: f64,
    /// The same goodput over the closed-loop capacity, and the cell's own capacity (req/s).
    against_closed_loop: f64,
    served_capacity: f64,
}

/// Requests per second that `WORKERS` handlers complete sleeping back to back for `length`.
async fn closed_loop_capacity(service: ServiceTime, length: Duration) -> f64 {
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

/// `load` × the closed-loop capacity offered for a cell's length (the warm-up not counted).
async fn cell(service: ServiceTime, strategy: Strategy, load: f64, closed_loop: f64, critical: bool) -> Cell {
    let (length, warmup) = if quick() { (3, 1) } else { (8, 2) };
    let server = ServerModel { workers: WORKERS, service };
    let mut sc = Scenario::constant(strategy, load * closed_loop / server.capacity(), Duration::from_secs(length));
    sc.server = server;
    sc.warmup = Duration::from_secs(warmup);
    sc.deadline = DEADLINE;
    if critical {
        sc.mix = [0.0, 0.8, 0.0, 0.0, 0.2];
        sc.shares = PriorityShares::default();
    }
    let r = run(&sc).await.expect("a valid scenario");
    let critical = r.classes[4].ok as f64 / r.measured_secs / r.served_capacity;
    Cell {
        goodput: r.served_goodput_ratio(),
        critical,
        against_closed_loop: r.goodput() / closed_loop,
        served_capacity: r.served_capacity,
    }
}

/// Runs every shape and strategy, records the figures and writes the section's table.
pub(crate) fn realtime_load() {
    let rt: Runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (length, warmup) = if quick() { (3, 1) } else { (8, 2) };
    let mut md = String::new();
    let _ = writeln!(md, "### Real time: spread-out service times on 8 slots (bounded load run)\n");
    let _ = writeln!(
        md,
        "The overload simulation's generator, server and controller on a runtime with the real clock: the \
         handler really sleeps; open-loop Poisson arrivals, latency from the scheduled start, 500 ms client \
         deadline, {length} s per cell (the first {warmup} s not counted). Goodput is relative to the capacity \
         the server showed in the same cell (8 slots over the mean time its handler took, so a heavy tail's \
         luck cancels; it is also lower than an idle runtime's, because the handler's sleeps wake later while \
         the same 2 cores run the generator and the refusals); in parentheses, the same goodput against the \
         closed-loop capacity measured before (8 handlers sleeping back to back, which also sets the offered \
         load). Critical: 20 % critical traffic at 10× (critical alone offers 2×), default priority reserves. \
         Goal: every adaptive limit ≥ 0.9.\n"
    );
    let _ = writeln!(md, "| service | closed-loop C | C in the cells | limit | 2× | 5× | 10× | critical at 10× |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for (shape, service) in [("bimodal", ServiceTime::bimodal_2ms_50ms()), ("Pareto", ServiceTime::pareto_2ms())] {
        let closed_loop = rt.block_on(closed_loop_capacity(service, Duration::from_secs(length)));
        let mut rows = Vec::new();
        for s in [Strategy::Aimd, Strategy::Vegas, Strategy::Gradient2, Strategy::Static(WORKERS)] {
            let cells: Vec<Cell> =
                LOADS.iter().map(|&l| rt.block_on(cell(service, s.clone(), l, closed_loop, false))).collect();
            let critical = rt.block_on(cell(service, s.clone(), 10.0, closed_loop, true)).critical;
            let g: Vec<f64> = cells.iter().map(|c| c.goodput).collect();
            let served: Vec<f64> = cells.iter().map(|c| c.served_capacity).collect();
            let both: Vec<String> =
                cells.iter().map(|c| format!("{:.3} ({:.3})", c.goodput, c.against_closed_loop)).collect();
            let _ = writeln!(
                md,
                "| {} | {closed_loop:.0} req/s | {:.0}–{:.0} req/s | {} | {} | {critical:.3} |",
                service.label(),
                min(&served),
                served.iter().copied().fold(0.0, f64::max),
                s.label(),
                both.join(" | "),
            );
            rows.push((s, g, critical));
        }
        let baseline = rows.iter().find(|(s, ..)| matches!(s, Strategy::Static(_))).map(|(_, g, k)| (min(g), *k));
        for (s, g, critical) in rows.iter().filter(|(s, ..)| !matches!(s, Strategy::Static(_))) {
            let each: Vec<String> = g.iter().map(|v| format!("{v:.3}")).collect();
            fig(
                &format!("{} goodput at 2×/5×/10×, {shape} service, real time (worst of the three)", s.label()),
                min(g),
                baseline.map(|b| b.0),
                &format!(
                    "{} on 2×/5×/10×, each against the capacity the server showed in that cell (closed-loop C = \
                     {closed_loop:.0} req/s); baseline: static limit 8 (the slots) in the same run",
                    each.join(" / ")
                ),
            );
            fig(
                &format!("{} critical goodput, 20 % critical at 10×, {shape} service, real time", s.label()),
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

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn fig(figure: &str, value: f64, baseline: Option<f64>, note: &str) {
    record(&Figure {
        krate: "admission".into(),
        figure: figure.into(),
        unit: "ratio of C".into(),
        value: Measure::Value(value),
        baseline: baseline.map(Measure::Value),
        goal: Goal::AtLeast(0.9),
        note: note.into(),
    });
}
