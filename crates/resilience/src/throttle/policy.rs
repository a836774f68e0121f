use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::backoff::Jitter;
use crate::breaker::window::{TimeWindow, FAIL};
use crate::clock::{default_clock, duration_nanos, Clock, SharedClock};
use crate::error::{check_at_most, check_nonzero_duration, ConfigError, Error};

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
}

/// A snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct ThrottleStats {
    /// Requests in the window.
    pub requests: u64,
    /// Accepted by the backend, in the window.
    pub accepts: u64,
    /// Current local rejection probability.
    pub reject_probability: f64,
    /// Requests throttled locally so far.
    pub throttled: u64,
}

/// Serde settings of an [`AdaptiveThrottle`].
///
/// | field | default |
/// |---|---|
/// | `k` | 2.0 |
/// | `window` | 120 s |
/// | `buckets` | 60 (at most [`ThrottleConfig::MAX_BUCKETS`]) |
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleConfig {
    /// The multiplier `K` (at least 1).
    pub k: f64,
    /// Window length.
    pub window: Duration,
    /// Buckets in the window.
    pub buckets: u32,
}

impl ThrottleConfig {
    /// The most buckets the window may have: 4 096, as for the breaker's time window
    /// ([`WindowConfig::MAX_BUCKETS`](crate::WindowConfig::MAX_BUCKETS)).
    pub const MAX_BUCKETS: u32 = TimeWindow::MAX_BUCKETS;
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self { k: 2.0, window: Duration::from_secs(120), buckets: 60 }
    }
}

/// Builds an [`AdaptiveThrottle`]. Defaults: `K = 2`, a 2-minute window in 60 buckets.
#[must_use]
#[derive(Debug)]
pub struct ThrottleBuilder {
    k: f64,
    window: Duration,
    buckets: u32,
    clock: Option<SharedClock>,
}

impl ThrottleBuilder {
    /// The multiplier `K` (≥ 1; 2 is the SRE book's value, lower is more aggressive).
    pub fn k(mut self, k: f64) -> Self {
        self.k = k;
        self
    }

    /// The window length and bucket count (1 to [`ThrottleConfig::MAX_BUCKETS`]).
    pub fn window(mut self, length: Duration, buckets: u32) -> Self {
        self.window = length;
        self.buckets = buckets;
        self
    }

    /// The clock.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Checks the settings and builds the throttle.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for `K` below 1 or not finite, a zero window, zero buckets or more than
    /// [`ThrottleConfig::MAX_BUCKETS`].
    pub fn build(self) -> Result<AdaptiveThrottle, ConfigError> {
        if !self.k.is_finite() || self.k < 1.0 {
            return Err(ConfigError::OutOfRange { name: "k", value: self.k, expected: "finite and at least 1" });
        }
        check_nonzero_duration("window", self.window)?;
        if self.buckets == 0 {
            return Err(ConfigError::Zero { name: "buckets" });
        }
        check_at_most("buckets", self.buckets, ThrottleConfig::MAX_BUCKETS)?;
        Ok(AdaptiveThrottle {
            inner: Arc::new(Inner {
                window: TimeWindow::new(self.buckets, duration_nanos(self.window / self.buckets).max(1)),
                k: self.k,
                clock: self.clock.unwrap_or_else(default_clock),
                jitter: Jitter::new(),
                throttled: AtomicU64::new(0),
            }),
        })
    }
}

impl AdaptiveThrottle {
    /// A builder.
    pub fn builder() -> ThrottleBuilder {
        let c = ThrottleConfig::default();
        ThrottleBuilder { k: c.k, window: c.window, buckets: c.buckets, clock: None }
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
            self.inner.throttled.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("perfstack_throttle_rejected_total").increment(1);
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
