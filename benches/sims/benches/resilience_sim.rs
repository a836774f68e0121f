//! Retry amplification in virtual time (paused tokio clock): attempts per offered request when
//! the downstream fails a fraction of calls, with and without a retry budget.
//!
//! Lives in `perfstack-sims`, apart from the criterion micro-benches, because a paused clock
//! needs tokio's `test-util`, which makes every `tokio::time::Instant::now()` slower.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use perfstack_benches::{plot_dir, quick, record, write_section, Figure, Goal, Measure};
use perfstack_resilience::backoff::Constant;
use perfstack_resilience::{Retry, RetryBudget};

/// Attempts per offered request when the downstream fails a fraction of calls: open-loop
/// arrivals at 1,000 req/s on paused tokio time, up to 3 attempts with a short backoff, with
/// and without a 10 % budget (10 retries/s reserve).
fn amplification(fail_percent: u64, budgeted: bool) -> f64 {
    amplification_n(fail_percent, budgeted, if quick() { 5_000 } else { 30_000 })
}

fn amplification_n(fail_percent: u64, budgeted: bool, requests: u64) -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
    rt.block_on(async move {
        let mut b = Retry::builder("sim").max_attempts(3).backoff(Constant::new(Duration::from_millis(50)));
        if budgeted {
            b = b.budget(
                RetryBudget::builder()
                    .ratio(0.1)
                    .min_per_second(10)
                    .window(Duration::from_secs(10), 10)
                    .build()
                    .unwrap(),
            );
        }
        let retry = b.build().unwrap();
        let attempts = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::with_capacity(requests as usize);
        let t0 = tokio::time::Instant::now();
        for i in 0..requests {
            tokio::time::sleep_until(t0 + Duration::from_millis(i)).await;
            let (retry, attempts) = (retry.clone(), attempts.clone());
            tasks.push(tokio::spawn(async move {
                retry
                    .call(|| {
                        let n = attempts.fetch_add(1, Ordering::Relaxed);
                        // Deterministic failure pattern with the wanted rate.
                        let fail = (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % 100 < fail_percent;
                        async move {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                            if fail {
                                Err(())
                            } else {
                                Ok(())
                            }
                        }
                    })
                    .await
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        attempts.load(Ordering::Relaxed) as f64 / requests as f64
    })
}

fn simulate() {
    let mut rows = String::from(
        "Retry amplification (attempts per offered request; 1,000 req/s open loop, up to 3 attempts, budget 10 % + 10/s over 10 s; paused tokio time):\n\n| downstream failure | no budget | with budget |\n|---|---|---|\n",
    );
    for fail in [100u64, 50] {
        let without = amplification(fail, false);
        let with = amplification(fail, true);
        println!("amplification at {fail}% failure: without budget {without:.3}, with budget {with:.3}");
        rows.push_str(&format!("| {fail} % | {without:.3} | {with:.3} |\n"));
        record(&Figure {
            krate: "resilience".into(),
            figure: format!("attempts per offered request at {fail} % failure, with budget"),
            unit: "ratio".into(),
            value: Measure::Value(with),
            baseline: Some(Measure::Value(without)),
            goal: if fail == 100 { Goal::AtMost(1.2) } else { Goal::Info },
            note: "baseline: the same retry policy without a budget (3 attempts)".into(),
        });
    }
    let n = if quick() { 2_000 } else { 10_000 };
    let curve: Vec<(u64, f64, f64)> =
        (0..=10).map(|k| k * 10).map(|f| (f, amplification_n(f, false, n), amplification_n(f, true, n))).collect();
    match plot_amplification(&curve) {
        Ok(()) => rows.push_str(
            "\n![attempts per offered request vs downstream failure rate](plots/resilience_amplification.svg)\n",
        ),
        Err(e) => println!("plot failed: {e}"),
    }
    let _ = write_section("resilience", "10-amplification", &rows);
}

fn plot_amplification(curve: &[(u64, f64, f64)]) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let dir = plot_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("resilience_amplification.svg");
    let root = SVGBackend::new(&path, (720, 380)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut c = ChartBuilder::on(&root)
        .caption("attempts per offered request (3 attempts max)", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(45)
        .build_cartesian_2d(0f64..100f64, 0f64..3.2f64)?;
    c.configure_mesh().x_desc("downstream failure rate (%)").y_desc("attempts / request").draw()?;
    for (label, pick, col) in [("no budget", 1usize, RED), ("budget 10 % + 10/s", 2, BLUE)] {
        let pts: Vec<(f64, f64)> = curve.iter().map(|(f, a, b)| (*f as f64, if pick == 1 { *a } else { *b })).collect();
        c.draw_series(LineSeries::new(pts, col.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 15, y)], col));
    }
    c.configure_series_labels().border_style(BLACK).background_style(WHITE).draw()?;
    root.present()?;
    Ok(())
}

fn main() {
    simulate();
}
