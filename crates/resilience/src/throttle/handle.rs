//! The adaptive throttle handle: the local rejection probability, admission and recording.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::builder::ThrottleBuilder;
use super::config::ThrottleConfig;
use super::stats::ThrottleStats;
use crate::backoff::Jitter;
use crate::breaker::window::{TimeWindow, FAIL};
use crate::clock::{duration_nanos, SharedClock};
use crate::counter::LazyCounter;
use crate::error::{ConfigError, Error};

/// Client-side adaptive throttling: the client rejects a request locally with probability
/// `max(0, (requests − K·accepts) / (requests + 1))` over a sliding window, so a backend that
/// rejects most requests is not sent the full load (Google SRE book, chapter 21).
///
/// `requests` counts every request the application made, including those throttled locally;
/// `accepts` counts those the backend accepted.
///
/// # Examples
///
/// ```
/// use perfstack_resilience::{AdaptiveThrottle, ManualClock};
///
/// let t = AdaptiveThrottle::builder().k(2.0).clock(ManualClock::new()).build().unwrap();
/// for _ in 0..100 {
///     t.record(false); // the backend rejected every request
/// }
/// assert!(t.reject_probability() > 0.9);
/// ```
#[derive(Debug, Clone)]
pub struct AdaptiveThrottle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    window: TimeWindow,
    k: f64,
    clock: SharedClock,
    jitter: Jitter,
    throttled: AtomicU64,
    /// `perfstack_resilience_throttle_rejected_total{name}`, registered on the first local rejection.
    throttled_counter: LazyCounter,
}

impl AdaptiveThrottle {
    /// A builder with the defaults of [`ThrottleConfig`].
    pub fn builder() -> ThrottleBuilder {
        ThrottleBuilder::default()
    }

    /// A throttle from validated settings.
    pub(super) fn assemble(name: Arc<str>, c: &ThrottleConfig, clock: SharedClock) -> Self {
        Self {
            inner: Arc::new(Inner {
                throttled_counter: LazyCounter::new("perfstack_resilience_throttle_rejected_total", name),
                window: TimeWindow::new(c.buckets, duration_nanos(c.window / c.buckets).max(1)),
                k: c.k,
                clock,
                jitter: Jitter::new(),
                throttled: AtomicU64::new(0),
            }),
        }
    }

    /// A throttle from a configuration.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] as for [`ThrottleBuilder::build`].
    pub fn from_config(c: &ThrottleConfig) -> Result<Self, ConfigError> {
        Self::builder().k(c.k).window(c.window, c.buckets).build()
    }

    /// The current local rejection probability.
    #[must_use]
    pub fn reject_probability(&self) -> f64 {
        let s = self.inner.window.snapshot(self.inner.clock.now_nanos());
        let requests = s.calls as f64;
        let accepts = s.calls.saturating_sub(s.failed) as f64;
        ((requests - self.inner.k * accepts) / (requests + 1.0)).max(0.0)
    }

    /// Decides whether to send a request. A locally throttled request is counted as a request
    /// that was not accepted.
    pub fn try_admit(&self) -> bool {
        let p = self.reject_probability();
        if p > 0.0 && self.inner.jitter.unit() < p {
            let inner = &*self.inner;
            inner.throttled.fetch_add(1, Ordering::Relaxed);
            inner.throttled_counter.increment();
            self.record(false);
            return false;
        }
        true
    }

    /// Records whether the backend accepted a request that was sent.
    pub fn record(&self, accepted: bool) {
        let now = self.inner.clock.now_nanos();
        self.inner.window.record(now, if accepted { 0 } else { FAIL }, 0);
    }

    /// Runs `fut` unless throttled; an `Err` counts as a backend rejection.
    ///
    /// # Errors
    ///
    /// [`Error::Throttled`] when throttled locally, [`Error::Inner`] with the call's own error.
    pub async fn call<F, T, E>(&self, fut: F) -> Result<T, Error<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        if !self.try_admit() {
            return Err(Error::Throttled);
        }
        let r = fut.await;
        self.record(r.is_ok());
        r.map_err(Error::Inner)
    }

    /// A snapshot.
    #[must_use]
    pub fn stats(&self) -> ThrottleStats {
        let s = self.inner.window.snapshot(self.inner.clock.now_nanos());
        ThrottleStats {
            requests: s.calls,
            accepts: s.calls.saturating_sub(s.failed),
            reject_probability: self.reject_probability(),
            throttled: self.inner.throttled.load(Ordering::Relaxed),
        }
    }
}
