//! The headline of perfstack-admission: a deterministic open-loop overload simulation in
//! virtual time (paused tokio clock). For offered loads of 0.5×, 1×, 2× and 5× the server's
//! capacity it compares no control, a hand-tuned static limit and each adaptive limit, then a
//! priority scenario (30 % critical at 2×), a convergence scenario (0.5× → 1.4× → 0.5×), and
//! spread-out service times on a small server (`admission_sim/shapes.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "admission_sim/shapes.rs"]
mod shapes;

use std::fmt::Write as _;
use std::time::Duration;

use perfstack_admission::sim::{run, Phase, Scenario, SimReport, Strategy};
use perfstack_admission::PriorityShares;
use perfstack_benches::{plot_dir, quick, record, write_section, Figure, Goal, Measure};
use plotters::prelude::*;

const LOADS: [f64; 4] = [0.5, 1.0, 2.0, 5.0];

fn strategies() -> Vec<Strategy> {
    vec![Strategy::NoControl, Strategy::Static(24), Strategy::Aimd, Strategy::Vegas, Strategy::Gradient2]
}

fn fig(figure: &str, unit: &str, value: f64, baseline: Option<f64>, goal: Goal, note: &str) {
    record(&Figure {
        krate: "admission".into(),
        figure: figure.into(),
        unit: unit.into(),
        value: Measure::Value(value),
        baseline: baseline.map(Measure::Value),
        goal,
        note: note.into(),
    });
}

fn cell(v: f64) -> String {
    if v.is_nan() {
        "—".into()
    } else {
        format!("{v:.1}")
    }
}

async fn simulate() {
    let secs = if quick() { 10 } else { 30 };
    let dur = Duration::from_secs(secs);
    let unloaded = run(&Scenario::constant(Strategy::NoControl, 0.2, dur)).await.unwrap();
    let base_p99 = unloaded.percentile_ms(0.99);
    let mut results: Vec<(Strategy, Vec<SimReport>)> = Vec::new();
    for s in strategies() {
        let mut row = Vec::new();
        for load in LOADS {
            row.push(run(&Scenario::constant(s.clone(), load, dur)).await.unwrap());
        }
        results.push((s, row));
    }
    let cap = unloaded.capacity;
    let mut md = String::new();
    let _ = writeln!(md, "### Overload simulation (virtual time, open loop, Poisson arrivals)\n");
    let _ = writeln!(
        md,
        "Server: 20 workers, service 8 ms + ⌈Exp(1.5 ms)⌉ (capacity C = {cap:.0} req/s), FIFO queue, 1 s client \
         deadline, latency from the scheduled arrival; {secs} s per cell, first 20 % not counted. Unloaded \
         (0.2×) p99 = {base_p99:.1} ms. Goodput = answered within the deadline / C.\n"
    );
    let _ =
        writeln!(md, "| strategy | load | goodput / C | admitted p50 ms | admitted p99 ms | p99 / unloaded | shed |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for (s, row) in &results {
        for (load, r) in LOADS.iter().zip(row) {
            let p99 = r.percentile_ms(0.99);
            let _ = writeln!(
                md,
                "| {} | {load}× | {:.3} | {} | {} | {} | {:.1} % |",
                s.label(),
                r.goodput_ratio(),
                cell(r.percentile_ms(0.5)),
                cell(p99),
                if p99.is_nan() { "—".into() } else { format!("{:.2}", p99 / base_p99) },
                r.shed_ratio() * 100.0
            );
        }
    }
    let tuned = results.iter().find(|(s, _)| matches!(s, Strategy::Static(_))).map(|(_, r)| r.clone()).unwrap();
    for (s, row) in &results {
        if !matches!(s, Strategy::Aimd | Strategy::Vegas | Strategy::Gradient2) {
            continue;
        }
        for (i, load, goal_g, goal_p) in [(2, 2.0, 0.95, 2.0), (3, 5.0, 0.90, 3.0)] {
            let r = &row[i];
            fig(
                &format!("{} goodput at {load}× load", s.label()),
                "ratio of C",
                r.goodput_ratio(),
                Some(tuned[i].goodput_ratio()),
                Goal::AtLeast(goal_g),
                "baseline: hand-tuned static limit 24 in the same run",
            );
            fig(
                &format!("{} admitted p99 at {load}× / unloaded p99", s.label()),
                "ratio",
                r.percentile_ms(0.99) / base_p99,
                None,
                Goal::AtMost(goal_p),
                "unloaded = no control at 0.2×",
            );
        }
    }
    let no_control_2x = results[0].1[2].goodput_ratio();
    fig(
        "no control goodput at 2× load",
        "ratio of C",
        no_control_2x,
        None,
        Goal::Info,
        "congestion collapse: the server works for clients that gave up",
    );

    // Deadline queue: FIFO vs LIFO in front of the same limit.
    let _ = writeln!(md, "\n### Deadline queue at 5× load (Vegas, queue of 64, 50 ms maximum wait)\n");
    let _ = writeln!(md, "| queue | goodput / C | admitted p50 ms | admitted p99 ms | shed |");
    let _ = writeln!(md, "|---|---|---|---|---|");
    for (name, q) in [
        ("none (reject at once)", None),
        ("FIFO", Some((64, Duration::from_millis(50), perfstack_admission::QueueOrder::Fifo))),
        ("LIFO", Some((64, Duration::from_millis(50), perfstack_admission::QueueOrder::Lifo))),
    ] {
        let mut sc = Scenario::constant(Strategy::Vegas, 5.0, dur);
        sc.queue = q;
        let r = run(&sc).await.unwrap();
        let _ = writeln!(
            md,
            "| {name} | {:.3} | {} | {} | {:.1} % |",
            r.goodput_ratio(),
            cell(r.percentile_ms(0.5)),
            cell(r.percentile_ms(0.99)),
            r.shed_ratio() * 100.0
        );
    }

    // Priority: 30 % critical at 2×.
    let mut sc = Scenario::constant(Strategy::Vegas, 2.0, dur);
    sc.mix = [0.175, 0.175, 0.175, 0.175, 0.30];
    sc.shares = PriorityShares::default();
    let pr = run(&sc).await.unwrap();
    let _ = writeln!(
        md,
        "\n### Priority shedding at 2× load (Vegas, default reserves; 30 % critical, 17.5 % each other level)\n"
    );
    let _ = writeln!(md, "| priority | offered | goodput / offered | shed | p99 ms |");
    let _ = writeln!(md, "|---|---|---|---|---|");
    for (name, c) in ["low", "normal", "high", "urgent", "critical"].iter().zip(&pr.classes) {
        let _ = writeln!(
            md,
            "| {name} | {} | {:.3} | {:.1} % | {} |",
            c.offered,
            c.goodput_ratio(),
            c.shed_ratio() * 100.0,
            cell(c.percentile_ms(0.99))
        );
    }
    let crit = &pr.classes[4];
    fig(
        "critical goodput at 2× load (30 % critical)",
        "ratio of offered",
        crit.goodput_ratio(),
        None,
        Goal::AtLeast(0.99),
        "Vegas with default priority reserves",
    );
    fig(
        "critical p99 at 2× load / unloaded p99",
        "ratio",
        crit.percentile_ms(0.99) / base_p99,
        None,
        Goal::AtMost(1.5),
        "",
    );

    // Convergence: 0.5× → 1.4× → 0.5×.
    let mut conv = Vec::new();
    let _ = writeln!(md, "\n### Convergence (0.5× for 5 s → 1.4× for 5 s → 0.5× for 3 s; 100 ms windows)\n");
    let _ = writeln!(
        md,
        "| limit | windows to stable (±15 %) after the step up | limit before the step | windows until the limit is back to at least 85 % of it after the step down |"
    );
    let _ = writeln!(md, "|---|---|---|---|");
    for s in [Strategy::Aimd, Strategy::Vegas, Strategy::Gradient2] {
        let mut sc = Scenario::constant(s.clone(), 0.5, dur);
        sc.phases = vec![
            Phase { load: 0.5, duration: Duration::from_secs(5) },
            Phase { load: 1.4, duration: Duration::from_secs(5) },
            Phase { load: 0.5, duration: Duration::from_secs(3) },
        ];
        let r = run(&sc).await.unwrap();
        let c = r.convergence(50, 100, 0.15);
        let (settle, recover) = (c.settle, c.recover.min(30));
        let _ = writeln!(md, "| {} | {settle} | {} | {recover} |", s.label(), c.before);
        fig(
            &format!("{} windows to stable after 0.5×→1.4× step", s.label()),
            "windows",
            settle as f64,
            None,
            Goal::AtMost(10.0),
            "",
        );
        fig(
            &format!("{} windows to recover after 1.4×→0.5×", s.label()),
            "windows",
            recover as f64,
            None,
            Goal::AtMost(5.0),
            "limit back to at least 85 % of its pre-step level (30 = not within the 3 s); a limit that rose while loaded has nothing to recover",
        );
        conv.push((s, r));
    }
    md.push_str(&shapes::spread_out_service_times().await);
    match plot(&results, base_p99, &conv) {
        Ok(()) => {
            let _ = writeln!(md, "\n![goodput and p99 against offered load](plots/admission_overload.svg)\n");
            let _ = writeln!(md, "![limit over time in the convergence scenario](plots/admission_convergence.svg)");
        }
        Err(e) => println!("admission_sim: plot failed: {e}"),
    }
    if let Err(e) = write_section("admission", "10-overload", &md) {
        println!("admission_sim: {e}");
    }
    println!("{md}");
}

type PlotResult = Result<(), Box<dyn std::error::Error>>;

fn plot(results: &[(Strategy, Vec<SimReport>)], base_p99: f64, conv: &[(Strategy, SimReport)]) -> PlotResult {
    let dir = plot_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("admission_overload.svg");
    let root = SVGBackend::new(&path, (1000, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(500);
    let colors = [RED, BLACK, MAGENTA, BLUE, GREEN];
    let mut a = ChartBuilder::on(&left)
        .caption("goodput / capacity", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(0.0..5.5, 0.0..1.1)?;
    a.configure_mesh().x_desc("offered load / capacity").draw()?;
    for ((s, row), c) in results.iter().zip(colors) {
        let pts: Vec<(f64, f64)> = LOADS.iter().zip(row).map(|(l, r)| (*l, r.goodput_ratio())).collect();
        a.draw_series(LineSeries::new(pts, c.stroke_width(2)))?
            .label(s.label())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 15, y)], c));
    }
    a.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    let mut b = ChartBuilder::on(&right)
        .caption("admitted p99 / unloaded p99 (log)", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(0.0..5.5, (0.5..100.0).log_scale())?;
    b.configure_mesh().x_desc("offered load / capacity").draw()?;
    for ((_, row), c) in results.iter().zip(colors) {
        let pts: Vec<(f64, f64)> = LOADS
            .iter()
            .zip(row)
            .filter_map(|(l, r)| {
                let p = r.percentile_ms(0.99);
                (!p.is_nan()).then_some((*l, p / base_p99))
            })
            .collect();
        b.draw_series(LineSeries::new(pts, c.stroke_width(2)))?;
    }
    root.present()?;

    let path = dir.join("admission_convergence.svg");
    let root = SVGBackend::new(&path, (800, 360)).into_drawing_area();
    root.fill(&WHITE)?;
    let max = conv.iter().flat_map(|(_, r)| r.windows.iter().map(|w| w.limit)).max().unwrap_or(10) as f64 * 1.1;
    let mut c = ChartBuilder::on(&root)
        .caption("concurrency limit, load 0.5× → 1.4× (t = 5 s) → 0.5× (t = 10 s)", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(0.0..13.0, 0.0..max)?;
    c.configure_mesh().x_desc("seconds").draw()?;
    for ((s, r), col) in conv.iter().zip([MAGENTA, BLUE, GREEN]) {
        let pts: Vec<(f64, f64)> = r.windows.iter().map(|w| (w.t, w.limit as f64)).collect();
        c.draw_series(LineSeries::new(pts, col.stroke_width(2)))?
            .label(s.label())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 15, y)], col));
    }
    c.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

fn main() {
    // Started paused (not paused later) so that virtual time is aligned with the timer wheel's
    // 1 ms ticks and whole-millisecond service times are not rounded up.
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
    rt.block_on(simulate());
}
