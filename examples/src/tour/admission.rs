//! perfstack-admission: decide before any work is done whether a request may run.

use std::time::Duration;

use perfstack_admission::rate::RateLimit;
use perfstack_admission::sim::{run as simulate, Scenario, Strategy};
use perfstack_admission::{AdmissionController, Priority, RequestMeta};

use super::{SectionError, Tour};

/// The admission section: priorities and rejections, a rate limit with peek, the Redis GCRA
/// shared by two instances (when Redis is reachable), and the overload simulation.
///
/// # Errors
///
/// A failed build or a Redis error.
pub async fn run(tour: &Tour) -> Result<(), SectionError> {
    tour.heading("admission: rate limits, adaptive concurrency, priority shedding");

    let ctl = AdmissionController::builder().name("tour").fixed_limit(10).build()?;
    let mut held = Vec::new();
    while let Ok(p) = ctl.try_acquire(&RequestMeta::new(Priority::Low)) {
        held.push(p);
    }
    let refused = ctl.try_acquire(&RequestMeta::new(Priority::Low)).err();
    println!(
        "  limit 10: Low gets {} slots (the rest is reserved for higher levels); the next Low is refused: {}",
        held.len(),
        refused.map(|r| r.to_string()).unwrap_or_default()
    );
    let critical = ctl.try_acquire(&RequestMeta::new(Priority::Critical))?;
    println!("  Critical is still admitted: in flight {} / {}", ctl.inflight(), ctl.limit());
    drop((held, critical));

    let rate = RateLimit::per_second(5.0, 2)?;
    rate.check()?;
    rate.check()?;
    println!(
        "  rate 5/s burst 2: peek after two calls -> {:?} (peek consumes nothing)",
        rate.peek().err().map(|e| e.retry_after)
    );

    match &tour.services.redis {
        Some(url) => redis_section(url).await?,
        None => println!("  Redis not reachable: skipping the distributed GCRA (it needs a real Redis)"),
    }

    let secs = if tour.quick { 3 } else { 10 };
    // The simulation runs in virtual time, on its own runtime started paused.
    let rows = std::thread::spawn(move || -> Result<Vec<String>, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let mut rows = Vec::new();
            for s in [Strategy::NoControl, Strategy::Vegas, Strategy::Gradient2] {
                let r = simulate(&Scenario::constant(s.clone(), 2.0, Duration::from_secs(secs)))
                    .await
                    .map_err(|e| e.to_string())?;
                rows.push(format!(
                    "  {:<11} goodput {:.2}·C  admitted p99 {:>6.1} ms  shed {:>4.1} %",
                    s.label(),
                    r.goodput_ratio(),
                    r.percentile_ms(0.99),
                    100.0 * r.shed_ratio()
                ));
            }
            Ok(rows)
        })
    })
    .join()
    .map_err(|_| "simulation thread panicked")??;
    println!("  overload simulation, 2× capacity, {secs} s of virtual time (1 s client deadline):");
    for r in rows {
        println!("{r}");
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
async fn redis_section(url: &str) -> Result<(), SectionError> {
    use fred::prelude::*;
    use perfstack_admission::redis::RedisRateLimit;
    let key = format!("perfstack:tour:gcra:{}", std::process::id());
    let mut limits = Vec::new();
    for _ in 0..2 {
        let client = Client::new(Config::from_url(url)?, None, None, None);
        client.init().await?;
        limits.push(RedisRateLimit::builder(client, key.clone(), 50.0, 5).build().await?);
    }
    let mut admitted = 0;
    for i in 0..40 {
        if limits[i % 2].check().await.is_ok() {
            admitted += 1;
        }
    }
    let trips: u64 = limits.iter().map(RedisRateLimit::round_trips).sum();
    println!("  Redis GCRA 50/s burst 5 shared by two instances: {admitted} of 40 back-to-back requests admitted ({trips} EVALSHA round trips, server TIME; a burst of 5 leaves a lease of 1 cell)");
    Ok(())
}
