//! The pipeline handle: one call through every policy, in the fixed order.

use std::future::Future;

use super::builder::PipelineBuilder;
use crate::breaker::{CircuitBreaker, Outcome};
use crate::bulkhead::Bulkhead;
use crate::error::Error;
use crate::hedge::Hedge;
use crate::retry::{Retry, Verdict};
use crate::throttle::AdaptiveThrottle;
use crate::timeout::Timeout;

/// Policies stacked in one fixed order, outermost first:
///
/// **hedge → retry → adaptive throttle → circuit breaker → bulkhead → timeout → call**
///
/// Hedging is the outermost strategy, as in Polly v8 (and its standard hedging handler): a
/// backup launches a whole new run of the inner stack, so each hedged attempt gets its own
/// retries and goes through the breaker, bulkhead and timeout like any other attempt; the first
/// success wins and the other run is dropped (cancelled). Retries and hedge backups draw from
/// one [`RetryBudget`](crate::RetryBudget): a hedge built without a budget of its own uses the
/// retry's, and the pipeline deposits once per call (not once per hedged run).
///
/// Each retry is a fresh attempt through the breaker (which sees every attempt). The breaker
/// refuses before the call queues in the bulkhead, but takes its permit only once the bulkhead
/// has given the call a slot: a queued call holds no half-open probe, and its time in the queue
/// is not call time for the slow-call threshold. The timeout bounds the call itself, not the
/// queueing. Retries stop on rejections (open breaker, full bulkhead, throttled): retrying
/// into an open breaker only burns the budget. Put a [`Fallback`](crate::Fallback) around
/// [`call`](Self::call) for the outermost layer. Every part is optional; the pipeline is cheap
/// to clone and clones share all state.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use perfstack_resilience::{backoff::Constant, Bulkhead, CircuitBreaker, Fallback, Pipeline, Retry, Timeout};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let pipeline = Pipeline::builder()
///     .retry(Retry::builder("api").max_attempts(3).backoff(Constant::new(Duration::from_millis(5))).build().unwrap())
///     .breaker(CircuitBreaker::builder("api").build().unwrap())
///     .bulkhead(Bulkhead::builder("api").max_concurrent(32).build().unwrap())
///     .timeout(Timeout::new(Duration::from_secs(1)).unwrap())
///     .build();
/// let fallback = Fallback::value("stale answer");
/// let answer = fallback.call(pipeline.call(|| async { Err::<&str, _>("down") })).await;
/// assert_eq!(answer.unwrap(), "stale answer");
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    pub(super) hedge: Option<Hedge>,
    pub(super) retry: Option<Retry>,
    pub(super) throttle: Option<AdaptiveThrottle>,
    pub(super) breaker: Option<CircuitBreaker>,
    pub(super) bulkhead: Option<Bulkhead>,
    pub(super) timeout: Option<Timeout>,
}

/// The default retry rule: retry downstream errors and timeouts, never rejections.
fn default_verdict<E>(e: &Error<E>) -> Verdict {
    match e {
        Error::Inner(_) | Error::Timeout(_) => Verdict::Retry,
        _ => Verdict::Stop,
    }
}

impl Pipeline {
    /// A builder.
    pub fn builder() -> PipelineBuilder {
        PipelineBuilder::default()
    }

    /// Runs `f` through the pipeline.
    ///
    /// # Errors
    ///
    /// The last attempt's error: the call's own ([`Error::Inner`]) or a policy's.
    pub async fn call<F, Fut, T, E>(&self, f: F) -> Result<T, Error<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_if(default_verdict, f).await
    }

    /// Like [`call`](Self::call), with a custom retry rule (for example one that reads a
    /// `Retry-After` hint from the error).
    ///
    /// # Errors
    ///
    /// The last attempt's error.
    pub async fn call_if<V, F, Fut, T, E>(&self, verdict: V, f: F) -> Result<T, Error<E>>
    where
        V: Fn(&Error<E>) -> Verdict,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let retry_budget = self.retry.as_ref().and_then(Retry::budget);
        if let Some(b) = retry_budget {
            b.deposit();
        }
        let Some(hedge) = &self.hedge else { return self.retrying(&verdict, f).await };
        let hedge_budget = hedge.budget().or(retry_budget);
        if let Some(b) = hedge_budget.filter(|b| !retry_budget.is_some_and(|r| r.same_as(b))) {
            b.deposit();
        }
        // Both runs make their futures through the one closure, one at a time.
        let f = parking_lot::Mutex::new(f);
        let f = &f;
        hedge.race(hedge_budget, || self.retrying(&verdict, move || (*f.lock())())).await
    }

    /// Retries (if any) around attempts; the caller has deposited into the budget.
    async fn retrying<V, F, Fut, T, E>(&self, verdict: &V, mut f: F) -> Result<T, Error<E>>
    where
        V: Fn(&Error<E>) -> Verdict,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let Some(retry) = &self.retry else { return self.attempt(f()).await };
        let started = retry.inner.max_elapsed.map(|_| tokio::time::Instant::now());
        retry.attempts(started, verdict, || self.attempt(f())).await
    }

    async fn attempt<Fut, T, E>(&self, fut: Fut) -> Result<T, Error<E>>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(t) = &self.throttle {
            if !t.try_admit() {
                return Err(Error::Throttled);
            }
        }
        // The breaker's permit is taken once the bulkhead has given the call a slot: a call
        // waiting in the queue holds no half-open probe, and its queue time is not call time
        // for the slow-call threshold. A breaker that refuses now refuses before the queue.
        if let Some(b) = &self.breaker {
            b.precheck()?;
        }
        let slot = match &self.bulkhead {
            Some(b) => Some(b.acquire().await?),
            None => None,
        };
        // Refused after the wait (another call took the last probe, or the breaker opened):
        // the slot is freed on return and nothing is recorded.
        let permit = match &self.breaker {
            Some(b) => Some(b.try_acquire()?),
            None => None,
        };
        let r = match &self.timeout {
            Some(t) => t.call(fut).await,
            None => fut.await.map_err(Error::Inner),
        };
        drop(slot);
        if let Some(p) = permit {
            p.record(if r.is_ok() { Outcome::Success } else { Outcome::Failure });
        }
        if let Some(t) = &self.throttle {
            t.record(r.is_ok());
        }
        r
    }
}
