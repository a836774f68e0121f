//! The hedge handle: race a backup against a slow first call.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::builder::HedgeBuilder;
use super::config::HedgeDelay;
use super::latency::LatencyTracker;
use super::stats::HedgeStats;
use crate::budget::RetryBudget;
use crate::clock::duration_nanos;
use crate::counter::LazyCounter;

/// Hedged requests: if the first call has not answered after the hedge delay, a backup call
/// starts; the first success wins and the other is dropped (cancelled). Backups withdraw from
/// the (shared) retry budget, so hedging cannot multiply load on a struggling downstream.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use perfstack_resilience::{Hedge, HedgeDelay};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let hedge = Hedge::builder(HedgeDelay::Fixed { delay: Duration::from_millis(10) }).build().unwrap();
/// let n = AtomicU32::new(0);
/// let out = hedge
///     .call(|| async {
///         // The first call is stuck; the backup answers at once.
///         if n.fetch_add(1, Ordering::SeqCst) == 0 { tokio::time::sleep(Duration::from_secs(60)).await; }
///         Ok::<_, ()>("fast")
///     })
///     .await;
/// assert_eq!(out, Ok("fast"));
/// assert_eq!(hedge.stats().backups, 1);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Hedge {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// `perfstack_resilience_hedge_backups_total{name}`.
    backups_counter: LazyCounter,
    delay: HedgeDelay,
    tracker: Option<LatencyTracker>,
    budget: Option<RetryBudget>,
    calls: AtomicU64,
    backups: AtomicU64,
    backup_wins: AtomicU64,
    budget_refusals: AtomicU64,
}

impl Hedge {
    /// A builder.
    pub fn builder(delay: HedgeDelay) -> HedgeBuilder {
        HedgeBuilder::new(delay)
    }

    /// A hedge from a validated delay.
    pub(super) fn assemble(name: Arc<str>, delay: HedgeDelay, budget: Option<RetryBudget>) -> Self {
        let tracker = match delay {
            HedgeDelay::Fixed { .. } => None,
            HedgeDelay::Quantile { quantile, .. } => Some(LatencyTracker::new(quantile)),
        };
        Self {
            inner: Arc::new(Inner {
                backups_counter: LazyCounter::new("perfstack_resilience_hedge_backups_total", name),
                delay,
                tracker,
                budget,
                calls: AtomicU64::new(0),
                backups: AtomicU64::new(0),
                backup_wins: AtomicU64::new(0),
                budget_refusals: AtomicU64::new(0),
            }),
        }
    }

    /// The current hedge delay.
    #[must_use]
    pub fn delay(&self) -> Duration {
        match (self.inner.delay, &self.inner.tracker) {
            (HedgeDelay::Quantile { min, max, .. }, Some(t)) => {
                let q = t.quantile_nanos();
                if q == 0 {
                    max
                } else {
                    Duration::from_nanos(q).clamp(min, max)
                }
            }
            (HedgeDelay::Fixed { delay: d }, _) | (HedgeDelay::Quantile { max: d, .. }, None) => d,
        }
    }

    /// Runs `f`, and once more after the hedge delay if the first has not answered. Returns
    /// the first success; if one attempt fails, waits for the other.
    ///
    /// # Errors
    ///
    /// The error of the last attempt to fail.
    pub async fn call<F, Fut, T, E>(&self, f: F) -> Result<T, E>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let budget = self.inner.budget.as_ref();
        if let Some(b) = budget {
            b.deposit();
        }
        self.race(budget, f).await
    }

    /// The budget backups withdraw from, if the hedge has its own.
    #[must_use]
    pub fn budget(&self) -> Option<&RetryBudget> {
        self.inner.budget.as_ref()
    }

    /// [`call`](Self::call) without the deposit, backups withdrawing from `budget`: for a
    /// caller (the [`Pipeline`](crate::Pipeline)) that deposits once per request itself.
    pub(crate) async fn race<F, Fut, T, E>(&self, budget: Option<&RetryBudget>, f: F) -> Result<T, E>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let inner = &*self.inner;
        inner.calls.fetch_add(1, Ordering::Relaxed);
        let t0 = tokio::time::Instant::now();
        let primary = f();
        tokio::pin!(primary);
        tokio::select! {
            r = &mut primary => {
                self.observe(t0);
                return r;
            }
            () = tokio::time::sleep(self.delay()) => {}
        }
        // From here the primary may lose (to the backup, or to the caller dropping this call):
        // the guard then records "at least this long" for it, so a slow primary that never
        // finishes still counts in the observed quantile (no bias towards fast primaries).
        let mut primary_clock = Censored { hedge: self, t0, armed: true };
        if let Some(b) = budget {
            if !b.try_withdraw() {
                inner.budget_refusals.fetch_add(1, Ordering::Relaxed);
                let r = primary.await;
                primary_clock.finish();
                return r;
            }
        }
        inner.backups.fetch_add(1, Ordering::Relaxed);
        inner.backups_counter.increment();
        let backup = f();
        tokio::pin!(backup);
        tokio::select! {
            r = &mut primary => {
                primary_clock.finish();
                match r {
                    Ok(v) => Ok(v),
                    Err(_) => self.won_by_backup(backup.await),
                }
            }
            r = &mut backup => {
                match r {
                    Ok(v) => {
                        // The primary is cancelled now: record its censored latency.
                        primary_clock.finish();
                        self.won_by_backup(Ok(v))
                    }
                    Err(_) => {
                        let r = primary.await;
                        primary_clock.finish();
                        r
                    }
                }
            }
        }
    }

    fn won_by_backup<T, E>(&self, r: Result<T, E>) -> Result<T, E> {
        if r.is_ok() {
            self.inner.backup_wins.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    fn observe(&self, t0: tokio::time::Instant) {
        if let Some(t) = &self.inner.tracker {
            t.record(duration_nanos(t0.elapsed()));
        }
    }

    /// A snapshot.
    #[must_use]
    pub fn stats(&self) -> HedgeStats {
        HedgeStats {
            calls: self.inner.calls.load(Ordering::Relaxed),
            backups: self.inner.backups.load(Ordering::Relaxed),
            backup_wins: self.inner.backup_wins.load(Ordering::Relaxed),
            budget_refusals: self.inner.budget_refusals.load(Ordering::Relaxed),
            delay_nanos: duration_nanos(self.delay()),
        }
    }
}

/// Records the primary's latency once: when it finishes, or (as a lower bound) when it is
/// cancelled because the backup won or the caller dropped the call.
struct Censored<'a> {
    hedge: &'a Hedge,
    t0: tokio::time::Instant,
    armed: bool,
}

impl Censored<'_> {
    fn finish(&mut self) {
        if std::mem::take(&mut self.armed) {
            self.hedge.observe(self.t0);
        }
    }
}

impl Drop for Censored<'_> {
    fn drop(&mut self) {
        self.finish();
    }
}
