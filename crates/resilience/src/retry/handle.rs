//! The retry handle: the retry loop and the decision before each retry.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::builder::RetryBuilder;
use super::config::RetryConfig;
use super::stats::RetryStats;
use super::verdict::Verdict;
use crate::backoff::Backoff;
use crate::budget::RetryBudget;
use crate::counter::LazyCounter;
use crate::error::ConfigError;

/// A retry policy. Cheap to clone; clones share counters and budget.
///
/// The budget (if any) gets one deposit per [`call`](Self::call), and each retry is withdrawn
/// when it is *decided*, before the backoff sleep.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
/// use perfstack_resilience::backoff::Constant;
/// use perfstack_resilience::{Retry, Verdict};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let retry = Retry::builder("fetch").max_attempts(4).backoff(Constant::new(Duration::from_millis(10))).build().unwrap();
/// let tries = AtomicU32::new(0);
/// let out = retry
///     .call(|| async {
///         if tries.fetch_add(1, Ordering::SeqCst) < 2 { Err("flaky") } else { Ok("done") }
///     })
///     .await;
/// assert_eq!(out, Ok("done"));
///
/// // Only some errors are retried; a server hint wins over the schedule.
/// let out: Result<(), u16> = retry
///     .call_if(|status: &u16| if *status == 429 { Verdict::RetryAfter(Duration::from_secs(1)) } else { Verdict::Stop }, || async { Err(404) })
///     .await;
/// assert_eq!(out, Err(404));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Retry {
    pub(crate) inner: Arc<RetryInner>,
}

#[derive(Debug)]
pub(crate) struct RetryInner {
    pub(crate) name: Arc<str>,
    pub(crate) max_attempts: u32,
    pub(crate) max_elapsed: Option<Duration>,
    pub(crate) backoff: Arc<dyn Backoff>,
    pub(crate) budget: Option<RetryBudget>,
    pub(crate) retries: AtomicU64,
    pub(crate) budget_refusals: AtomicU64,
    pub(crate) calls: AtomicU64,
    /// `perfstack_resilience_retry_attempts_total{name}`, registered once (a retry builds no metric key).
    pub(crate) attempts_counter: LazyCounter,
}

impl Retry {
    /// A builder with the defaults of [`RetryConfig`].
    pub fn builder(name: impl Into<String>) -> RetryBuilder {
        RetryBuilder::new(name, RetryConfig::default())
    }

    /// A policy from a configuration (and optionally a shared budget).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid setting.
    pub fn from_config(
        name: impl Into<String>,
        config: RetryConfig,
        budget: Option<RetryBudget>,
    ) -> Result<Self, ConfigError> {
        let b = RetryBuilder::new(name, config);
        match budget {
            Some(budget) => b.budget(budget).build(),
            None => b.build(),
        }
    }

    /// Runs `f` until it succeeds, retrying every error.
    ///
    /// # Errors
    ///
    /// The last error when attempts, elapsed time, schedule or budget run out.
    pub async fn call<F, Fut, T, E>(&self, f: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_if(|_: &E| Verdict::Retry, f).await
    }

    /// Runs `f`, asking `verdict` after each error whether (and when) to retry.
    ///
    /// # Errors
    ///
    /// The last error when `verdict` says stop, or attempts, elapsed time, schedule or budget
    /// run out.
    pub async fn call_if<V, F, Fut, T, E>(&self, verdict: V, f: F) -> Result<T, E>
    where
        V: Fn(&E) -> Verdict,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let started = self.begin();
        self.attempts(started, verdict, f).await
    }

    /// The retry loop of a call that started at `started`: attempts until one succeeds or
    /// [`next_delay`](Self::next_delay) says stop, sleeping out each delay.
    pub(crate) async fn attempts<V, F, Fut, T, E>(
        &self,
        started: Option<tokio::time::Instant>,
        verdict: V,
        mut f: F,
    ) -> Result<T, E>
    where
        V: Fn(&E) -> Verdict,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempt = 1u32;
        let mut previous = None;
        loop {
            let err = match f().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let Some(delay) = self.next_delay(&verdict(&err), attempt, previous, started) else { return Err(err) };
            previous = Some(delay);
            attempt += 1;
            tokio::time::sleep(delay).await;
        }
    }

    /// Starts one call: counts it, deposits into the budget, and returns the start time when
    /// `max_elapsed` needs one.
    pub(crate) fn begin(&self) -> Option<tokio::time::Instant> {
        let inner = &*self.inner;
        inner.calls.fetch_add(1, Ordering::Relaxed);
        if let Some(b) = &inner.budget {
            b.deposit();
        }
        inner.max_elapsed.map(|_| tokio::time::Instant::now())
    }

    /// The delay before the next attempt, or `None` to stop. Takes the budget token now: a
    /// retry waiting out its backoff already counts against the budget.
    pub(crate) fn next_delay(
        &self,
        verdict: &Verdict,
        attempt: u32,
        previous: Option<Duration>,
        started: Option<tokio::time::Instant>,
    ) -> Option<Duration> {
        let inner = &*self.inner;
        if attempt >= inner.max_attempts {
            return None;
        }
        let delay = match *verdict {
            Verdict::Stop => return None,
            Verdict::RetryAfter(d) => d,
            Verdict::Retry => inner.backoff.next_delay(attempt, previous)?,
        };
        if let (Some(max), Some(t0)) = (inner.max_elapsed, started) {
            // A huge delay (a Retry-After from a server, a `Duration::MAX` cap) is over any
            // budget; checked so it never overflows.
            if t0.elapsed().checked_add(delay).is_none_or(|t| t > max) {
                return None;
            }
        }
        if let Some(b) = &inner.budget {
            if !b.try_withdraw() {
                inner.budget_refusals.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        }
        inner.retries.fetch_add(1, Ordering::Relaxed);
        inner.attempts_counter.increment();
        Some(delay)
    }

    /// The shared budget, if any.
    #[must_use]
    pub fn budget(&self) -> Option<&RetryBudget> {
        self.inner.budget.as_ref()
    }

    /// The delay schedule.
    #[must_use]
    pub fn schedule(&self) -> &dyn Backoff {
        &*self.inner.backoff
    }

    /// A snapshot of the counters.
    #[must_use]
    pub fn stats(&self) -> RetryStats {
        RetryStats {
            name: self.inner.name.to_string(),
            calls: self.inner.calls.load(Ordering::Relaxed),
            retries: self.inner.retries.load(Ordering::Relaxed),
            budget_refusals: self.inner.budget_refusals.load(Ordering::Relaxed),
        }
    }
}
