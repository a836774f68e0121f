//! perfstack-resilience: a flaky downstream behind a retry budget, a circuit breaker, a
//! timeout and a fallback; the breaker opens, the fallback serves, the breaker recovers. Then
//! a hedged pipeline cuts the tail of a downstream whose calls sometimes stall.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use perfstack_resilience::backoff::Exponential;
use perfstack_resilience::{
    CircuitBreaker, DegradationManager, Fallback, Hedge, HedgeDelay, Pipeline, Retry, RetryBudget, State, Timeout,
};

use super::{SectionError, Tour};

/// What the flaky-downstream demo saw, per phase.
#[derive(Debug, Clone)]
pub struct PhaseReport {
    /// Phase name.
    pub phase: &'static str,
    /// Requests offered.
    pub requests: u64,
    /// Answers from the downstream.
    pub live: u64,
    /// Answers from the fallback.
    pub fallback: u64,
    /// Calls that reached the downstream (first tries and retries).
    pub downstream_calls: u64,
    /// Breaker state at the end of the phase.
    pub breaker: State,
    /// Whether the optional feature was on at the end of the phase.
    pub recommendations: bool,
}

/// The resilience section of the tour.
///
/// # Errors
///
/// A build error, or the breaker not opening or not recovering as expected.
pub async fn run(tour: &Tour) -> Result<(), SectionError> {
    tour.heading("resilience: breaker, retry budget, timeout, fallback, degradation");
    let (reports, transitions) = flaky_downstream(tour.quick).await?;
    print_reports(&reports, &transitions);
    print_hedge_report(&hedged_tail(tour.quick).await?);
    match &tour.services.redis {
        Some(url) => redis_behind_breaker(url).await?,
        None => {
            println!("  Redis not reachable: skipping the breaker-guarded Redis PING (the demo above is in memory)")
        }
    }
    Ok(())
}

/// Prints the phase table and the breaker's transitions.
pub fn print_reports(reports: &[PhaseReport], transitions: &[String]) {
    println!("  phase      requests  live  fallback  downstream calls  breaker     recommendations");
    for r in reports {
        println!(
            "  {:<10} {:>8}  {:>4}  {:>8}  {:>16}  {:<10}  {}",
            r.phase,
            r.requests,
            r.live,
            r.fallback,
            r.downstream_calls,
            r.breaker.as_str(),
            if r.recommendations { "on" } else { "off" }
        );
    }
    println!("  breaker transitions: {}", transitions.join(", "));
}

/// Runs the three phases (healthy, outage, recovered) against an in-memory downstream and
/// checks that the breaker opened during the outage and closed again after it.
///
/// # Errors
///
/// A build error, or the breaker not behaving as expected.
pub async fn flaky_downstream(quick: bool) -> Result<(Vec<PhaseReport>, Vec<String>), SectionError> {
    let transitions = Arc::new(Mutex::new(Vec::new()));
    let t = transitions.clone();
    let breaker = CircuitBreaker::builder("inventory")
        .count_window(20)
        .minimum_calls(10)
        .failure_rate_threshold(50.0)
        .wait_in_open(Duration::from_millis(150))
        .half_open_probes(3)
        .on_state_change(move |c| {
            if let Ok(mut v) = t.lock() {
                v.push(format!("{} -> {}", c.from, c.to));
            }
        })
        .build()?;
    let budget = RetryBudget::builder().ratio(0.2).min_per_second(5).build()?;
    let retry = Retry::builder("inventory")
        .max_attempts(3)
        .backoff(Exponential::new(Duration::from_millis(2), Duration::from_millis(20)))
        .budget(budget.clone())
        .build()?;
    let pipeline = Pipeline::builder()
        .retry(retry)
        .breaker(breaker.clone())
        .timeout(Timeout::new(Duration::from_millis(50))?)
        .build();
    let fallback = Fallback::value("inventory from the local cache");
    let levels = DegradationManager::builder()
        .level("degraded", 0.5, 0.3, ["recommendations"])
        .min_dwell(Duration::from_millis(100))
        .watch_breaker(breaker.clone())
        .build()?;

    let failing = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let per_phase = if quick { 120 } else { 300 };
    let mut reports = Vec::new();
    for (phase, down) in [("healthy", false), ("outage", true), ("recovered", false)] {
        failing.store(down, Ordering::SeqCst);
        let calls_before = calls.load(Ordering::SeqCst);
        let (mut live, mut served_by_fallback) = (0, 0);
        for _ in 0..per_phase {
            let (failing, calls) = (failing.clone(), calls.clone());
            let answer = fallback
                .call(pipeline.call(move || {
                    let (failing, calls) = (failing.clone(), calls.clone());
                    async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        if failing.load(Ordering::SeqCst) {
                            Err("503 from inventory")
                        } else {
                            Ok("inventory from the service")
                        }
                    }
                }))
                .await;
            match answer {
                Ok("inventory from the service") => live += 1,
                Ok(_) => served_by_fallback += 1,
                Err(e) => return Err(format!("the fallback should answer every error: {e}").into()),
            }
            levels.evaluate();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        reports.push(PhaseReport {
            phase,
            requests: per_phase,
            live,
            fallback: served_by_fallback,
            downstream_calls: calls.load(Ordering::SeqCst) - calls_before,
            breaker: breaker.state(),
            recommendations: levels.is_enabled("recommendations"),
        });
    }
    let transitions = transitions.lock().map(|v| v.clone()).unwrap_or_default();
    if !transitions.iter().any(|t| t == "closed -> open") || breaker.state() != State::Closed {
        return Err(format!("expected the breaker to open and recover, saw {transitions:?}").into());
    }
    Ok((reports, transitions))
}

/// What the hedged-pipeline demo saw.
#[derive(Debug, Clone)]
pub struct HedgeReport {
    /// Requests offered.
    pub requests: u32,
    /// Requests whose first call stalled.
    pub stalled: u32,
    /// Backup calls the hedge started (each paid from the retry budget).
    pub backups: u64,
    /// Requests answered by the backup.
    pub backup_wins: u64,
    /// The slowest request, hedged.
    pub worst: Duration,
    /// How long a stalled call takes on its own.
    pub stall: Duration,
}

/// Prints the hedged-pipeline report.
pub fn print_hedge_report(r: &HedgeReport) {
    println!(
        "  hedged pipeline: {} requests, {} first calls stalled ({} ms each); {} backups after 15 ms \
         from the retry budget, {} won; slowest request {} ms",
        r.requests,
        r.stalled,
        r.stall.as_millis(),
        r.backups,
        r.backup_wins,
        r.worst.as_millis()
    );
}

/// A downstream whose first call stalls for every tenth request, behind a pipeline with a
/// hedge (backup after 15 ms, paid from the retry's budget), a retry and a timeout: the backup
/// answers, so no request waits for a stalled call.
///
/// # Errors
///
/// A build error, or a request that waited for its stalled call.
pub async fn hedged_tail(quick: bool) -> Result<HedgeReport, SectionError> {
    const STALL: Duration = Duration::from_millis(150);
    let budget = RetryBudget::builder().ratio(0.2).min_per_second(5).build()?;
    let hedge = Hedge::builder(HedgeDelay::Fixed { delay: Duration::from_millis(15) }).build()?;
    let pipeline = Pipeline::builder()
        .hedge(hedge.clone())
        .retry(Retry::builder("search").max_attempts(2).budget(budget).build()?)
        .timeout(Timeout::new(Duration::from_secs(1))?)
        .build();
    let requests = if quick { 30 } else { 100 };
    let mut worst = Duration::ZERO;
    for i in 0..requests {
        let runs = AtomicU32::new(0);
        let t0 = tokio::time::Instant::now();
        let answer = pipeline
            .call(|| {
                let first = runs.fetch_add(1, Ordering::SeqCst) == 0;
                async move {
                    let stalled = first && i % 10 == 0;
                    tokio::time::sleep(if stalled { STALL } else { Duration::from_millis(2) }).await;
                    Ok::<_, &str>("results")
                }
            })
            .await;
        answer.map_err(|e| format!("hedged request failed: {e}"))?;
        worst = worst.max(t0.elapsed());
    }
    let s = hedge.stats();
    if worst >= STALL {
        return Err(format!("a request waited {worst:?} for a stalled call despite the hedge").into());
    }
    Ok(HedgeReport {
        requests,
        stalled: requests.div_ceil(10),
        backups: s.backups,
        backup_wins: s.backup_wins,
        worst,
        stall: STALL,
    })
}

async fn redis_behind_breaker(url: &str) -> Result<(), SectionError> {
    use fred::prelude::*;
    let client = Client::new(Config::from_url(url)?, None, None, None);
    client.init().await?;
    let breaker = CircuitBreaker::builder("redis").count_window(20).minimum_calls(5).build()?;
    let timeout = Timeout::new(Duration::from_millis(200))?;
    let mut ok = 0;
    for _ in 0..20 {
        let ping = timeout.call(client.ping::<String>(None));
        if breaker.call(ping).await.is_ok() {
            ok += 1;
        }
    }
    let _ = client.quit().await;
    let s = breaker.stats();
    println!(
        "  real Redis PING through breaker + timeout: {ok}/20 ok, breaker {} (window {} calls, {:.0} % failures)",
        s.state, s.window_calls, s.failure_rate
    );
    Ok(())
}
