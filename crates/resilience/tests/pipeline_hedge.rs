#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Hedging as the outermost stage of a `Pipeline` (paused tokio time).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use perfstack_resilience::backoff::Constant;
use perfstack_resilience::{
    CircuitBreaker, Error, Hedge, HedgeDelay, ManualClock, Pipeline, Retry, RetryBudget, Timeout,
};

const DELAY: Duration = Duration::from_millis(10);

fn hedge(budget: Option<RetryBudget>) -> Hedge {
    let b = Hedge::builder(HedgeDelay::Fixed { delay: DELAY });
    match budget {
        Some(budget) => b.budget(budget).build().unwrap(),
        None => b.build().unwrap(),
    }
}

/// A budget of exactly `n` withdrawals per deposit (ratio `n`), no reserve, frozen time.
fn budget(ratio: f64) -> RetryBudget {
    RetryBudget::builder().ratio(ratio).min_per_second(0).clock(ManualClock::new()).build().unwrap()
}

/// Sets its flag when dropped: proves a losing run's future was cancelled.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn backup_starts_after_the_delay_and_the_loser_is_cancelled() {
    let h = hedge(None);
    let p = Pipeline::builder().hedge(h.clone()).timeout(Timeout::new(Duration::from_secs(120)).unwrap()).build();
    let (starts, finished) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let primary_dropped = Arc::new(AtomicBool::new(false));
    let started_at = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let t0 = tokio::time::Instant::now();
    let out = p
        .call(|| {
            let n = starts.fetch_add(1, Ordering::SeqCst);
            started_at.lock().push(t0.elapsed());
            let (finished, flag) = (finished.clone(), DropFlag(primary_dropped.clone()));
            async move {
                if n == 0 {
                    let _flag = flag; // dropped with the primary's future
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    finished.fetch_add(1, Ordering::SeqCst);
                    return Ok::<_, &str>("primary");
                }
                tokio::time::sleep(Duration::from_millis(3)).await;
                finished.fetch_add(1, Ordering::SeqCst);
                Ok("backup")
            }
        })
        .await;
    assert_eq!(out.unwrap(), "backup");
    assert_eq!(*started_at.lock(), vec![Duration::ZERO, DELAY], "backup launched exactly at the delay");
    assert_eq!(t0.elapsed(), DELAY + Duration::from_millis(3));
    assert!(primary_dropped.load(Ordering::SeqCst), "the losing primary was cancelled");
    assert_eq!(finished.load(Ordering::SeqCst), 1, "only the winner ran to completion");
    let stats = h.stats();
    assert_eq!((stats.calls, stats.backups, stats.backup_wins), (1, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_fast_primary_launches_no_backup() {
    let h = hedge(None);
    let p = Pipeline::builder().hedge(h.clone()).build();
    let starts = AtomicU32::new(0);
    let out = p
        .call(|| {
            starts.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(DELAY / 2).await;
                Ok::<_, &str>(1)
            }
        })
        .await;
    assert_eq!(out.unwrap(), 1);
    assert_eq!(starts.load(Ordering::SeqCst), 1);
    assert_eq!(h.stats().backups, 0);
}

#[tokio::test(start_paused = true)]
async fn an_exhausted_budget_launches_no_backup() {
    let spent = budget(0.0);
    let h = hedge(None);
    let retry = Retry::builder("r").max_attempts(1).budget(spent.clone()).build().unwrap();
    let p = Pipeline::builder().hedge(h.clone()).retry(retry).build();
    let starts = AtomicU32::new(0);
    let t0 = tokio::time::Instant::now();
    let out = p
        .call(|| {
            starts.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok::<_, &str>("slow primary")
            }
        })
        .await;
    assert_eq!(out.unwrap(), "slow primary");
    assert_eq!(t0.elapsed(), Duration::from_millis(50), "waited for the primary");
    assert_eq!(starts.load(Ordering::SeqCst), 1, "no backup without a token");
    assert_eq!((h.stats().backups, h.stats().budget_refusals), (0, 1));
    assert_eq!(spent.stats().refused, 1, "the hedge asked the retry's budget");
}

/// One deposit per pipeline call pays for one extra attempt (ratio 1): the hedge's backup takes
/// it, and the retry inside the backup's run finds the shared budget empty.
#[tokio::test(start_paused = true)]
async fn retries_and_backups_share_one_budget() {
    let shared = budget(1.0);
    let h = hedge(None);
    let retry = Retry::builder("r")
        .max_attempts(5)
        .backoff(Constant::new(Duration::from_millis(1)))
        .budget(shared.clone())
        .build()
        .unwrap();
    let p = Pipeline::builder().hedge(h.clone()).retry(retry.clone()).build();
    let starts = AtomicU32::new(0);
    let out = p
        .call(|| {
            let n = starts.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    return Ok("primary");
                }
                Err("backup failed")
            }
        })
        .await;
    assert_eq!(out.unwrap(), "primary", "the failed backup waits for the primary");
    assert_eq!(starts.load(Ordering::SeqCst), 2, "primary and one backup, no retry of the backup");
    let s = shared.stats();
    assert_eq!((s.deposits, s.withdrawals, s.refused), (1, 1, 1), "one deposit per call, not per run");
    assert_eq!(retry.stats().budget_refusals, 1);
    assert_eq!(h.stats().backups, 1);
}

#[tokio::test(start_paused = true)]
async fn a_hedge_with_its_own_budget_uses_it() {
    let (own, retries) = (budget(1.0), budget(1.0));
    let h = hedge(Some(own.clone()));
    let retry = Retry::builder("r").max_attempts(1).budget(retries.clone()).build().unwrap();
    let p = Pipeline::builder().hedge(h).retry(retry).build();
    let starts = AtomicU32::new(0);
    let _ = p
        .call(|| {
            let n = starts.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(if n == 0 { Duration::from_secs(1) } else { Duration::from_millis(1) }).await;
                Ok::<_, &str>(n)
            }
        })
        .await;
    assert_eq!((own.stats().deposits, own.stats().withdrawals), (1, 1));
    assert_eq!((retries.stats().deposits, retries.stats().withdrawals), (1, 0));
}

/// Hedged runs go through the breaker: an open breaker refuses the primary run at once, and a
/// run that fails before the hedge delay launches no backup.
#[tokio::test(start_paused = true)]
async fn hedged_runs_go_through_the_breaker() {
    let breaker = CircuitBreaker::builder("h").build().unwrap();
    breaker.force_open();
    let h = hedge(None);
    let p = Pipeline::builder().hedge(h.clone()).breaker(breaker).build();
    let t0 = tokio::time::Instant::now();
    let out = p.call(|| async { Ok::<_, &str>(()) }).await;
    assert!(matches!(out, Err(Error::CircuitOpen { .. })), "{out:?}");
    assert_eq!((t0.elapsed(), h.stats().backups), (Duration::ZERO, 0));
}

#[tokio::test(start_paused = true)]
async fn a_hedged_pipeline_future_is_send() {
    fn assert_send<T: Send>(t: T) -> T {
        t
    }
    let p = Pipeline::builder().hedge(hedge(None)).build();
    let out = tokio::spawn(async move { assert_send(p.call(|| async { Ok::<_, &str>(7) })).await }).await.unwrap();
    assert_eq!(out.unwrap(), 7);
}
