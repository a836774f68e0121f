//! [`RateLimit`]: one GCRA bucket shared by every clone, lock-free.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::error::limited;
use super::{Gcra, RateLimited};
use crate::clock::{Clock, TokioClock};
use crate::ConfigError;

/// One GCRA bucket shared by every clone. Lock-free: one atomic compare-and-swap per check.
///
/// # Examples
///
/// ```
/// use perfstack_admission::rate::RateLimit;
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let limit = RateLimit::per_second(100.0, 5)?;
/// assert!(limit.peek().is_ok()); // peek does not consume
/// for _ in 0..5 { limit.check()?; }
/// let err = limit.check().unwrap_err();
/// assert!(err.retry_after <= std::time::Duration::from_millis(10));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RateLimit {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    gcra: Gcra,
    // 0 means a fresh bucket (as in governor: a real TAT is always at least one interval).
    tat: AtomicU64,
    clock: Arc<dyn Clock>,
}

impl RateLimit {
    /// `rate` requests per second with a burst of `burst`, on the default tokio clock.
    ///
    /// # Errors
    ///
    /// See [`Gcra::per_second`].
    pub fn per_second(rate: f64, burst: u64) -> Result<Self, ConfigError> {
        Ok(Self::new(Gcra::per_second(rate, burst)?))
    }

    /// A bucket from a `governor` quota.
    ///
    /// # Errors
    ///
    /// See [`Gcra::from_quota`].
    pub fn from_quota(quota: governor::Quota) -> Result<Self, ConfigError> {
        Ok(Self::new(Gcra::from_quota(quota)?))
    }

    /// A bucket with checked parameters on the default clock.
    #[must_use]
    pub fn new(gcra: Gcra) -> Self {
        Self::with_clock(gcra, Arc::new(TokioClock::new()))
    }

    /// A bucket on an explicit clock.
    #[must_use]
    pub fn with_clock(gcra: Gcra, clock: Arc<dyn Clock>) -> Self {
        Self { inner: Arc::new(Inner { gcra, tat: AtomicU64::new(0), clock }) }
    }

    /// The clock this limit reads.
    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The parameters.
    #[must_use]
    pub fn gcra(&self) -> Gcra {
        self.inner.gcra
    }

    /// Consumes one cell, or says how long to wait.
    ///
    /// # Errors
    ///
    /// [`RateLimited`] when the bucket is empty.
    #[inline]
    pub fn check(&self) -> Result<(), RateLimited> {
        self.check_at(self.inner.clock.now_nanos())
    }

    /// [`check`](Self::check) at a time already read from this limit's clock (its nanoseconds:
    /// the admitted path never converts to a `Duration` and back).
    #[inline]
    pub(crate) fn check_at(&self, now: u64) -> Result<(), RateLimited> {
        let mut prev = self.inner.tat.load(Ordering::Acquire);
        loop {
            let next = self.inner.gcra.decide((prev != 0).then_some(prev), now).map_err(limited)?;
            match self.inner.tat.compare_exchange_weak(prev, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(()),
                Err(p) => prev = p,
            }
        }
    }

    /// Whether [`check`](Self::check) would succeed now, without consuming anything.
    ///
    /// # Errors
    ///
    /// [`RateLimited`] when the bucket is empty.
    pub fn peek(&self) -> Result<(), RateLimited> {
        let now = self.inner.clock.now_nanos();
        let prev = self.inner.tat.load(Ordering::Acquire);
        self.inner.gcra.decide((prev != 0).then_some(prev), now).map(|_| ()).map_err(limited)
    }
}
