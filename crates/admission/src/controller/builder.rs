//! [`AdmissionControllerBuilder`]: checks a controller's settings and builds it.

use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::inner::{Core, Inner};
use super::queue::{QueueOrder, WaitQueue};
use super::window::{Window, WindowPolicy};
use super::{AdmissionController, PriorityShares};
use crate::clock::{Clock, TokioClock};
use crate::limit::{FixedLimit, Limit, Vegas, VegasConfig};
use crate::overload::OverloadSignal;
use crate::rate::{KeyedRateLimit, RateLimit};
use crate::ConfigError;

const MAX_QUEUE: usize = 1_000_000;
/// The longest control window: a limit that updates less often than hourly does not adapt,
/// and overload signals are re-read once per shortest window.
const MAX_WINDOW: Duration = Duration::from_secs(3_600);
/// Most admissions per latency sample: beyond this, windows starve for samples and the limit
/// stops adapting.
const MAX_SAMPLE_EVERY: u32 = 65_536;
/// The longest a request may wait in the queue (longer would overflow an instant, and no
/// client waits that long).
const MAX_QUEUE_TIMEOUT: Duration = Duration::from_secs(86_400);

/// Builds an [`AdmissionController`]; every setting is checked in [`build`](Self::build).
///
/// Defaults: a [`Vegas`] limit with its defaults, [`PriorityShares::default`], no rate limit,
/// no queue (so `acquire` behaves like `try_acquire`), control windows of 100 ms to 1 s with at
/// least 10 samples, the [`TokioClock`].
#[derive(Debug)]
#[must_use]
pub struct AdmissionControllerBuilder {
    name: String,
    limit: Option<Result<Box<dyn Limit>, ConfigError>>,
    rate: Option<RateLimit>,
    keyed: Option<KeyedRateLimit>,
    store: Option<Arc<dyn crate::rate::RateLimitStore>>,
    shares: PriorityShares,
    queue_capacity: usize,
    queue_timeout: Duration,
    queue_order: QueueOrder,
    window: WindowPolicy,
    signals: Vec<Arc<dyn OverloadSignal>>,
    clock: Option<Arc<dyn Clock>>,
    sample_every: u32,
}

impl Default for AdmissionControllerBuilder {
    fn default() -> Self {
        Self {
            name: "default".into(),
            limit: None,
            rate: None,
            keyed: None,
            store: None,
            shares: PriorityShares::default(),
            queue_capacity: 0,
            queue_timeout: Duration::ZERO,
            queue_order: QueueOrder::Fifo,
            window: WindowPolicy { min: Duration::from_millis(100), max: Duration::from_secs(1), min_samples: 10 },
            signals: Vec::new(),
            clock: None,
            sample_every: 8,
        }
    }
}

impl AdmissionControllerBuilder {
    /// The instance name: the `name` label of the controller's metrics, and `stats().name`
    /// (default `"default"`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The concurrency-limit algorithm.
    pub fn limit(mut self, limit: impl Limit) -> Self {
        self.limit = Some(Ok(Box::new(limit)));
        self
    }

    /// A limit whose construction may have failed; the error is reported by `build`, so a
    /// builder chain stays one expression: `.try_limit(Vegas::new(cfg))`.
    pub fn try_limit<L: Limit>(mut self, limit: Result<L, ConfigError>) -> Self {
        self.limit = Some(limit.map(|l| Box::new(l) as Box<dyn Limit>));
        self
    }

    /// A hand-tuned static limit (0 is refused by `build`).
    pub fn fixed_limit(mut self, limit: usize) -> Self {
        self.limit =
            Some(if limit == 0 { Err(ConfigError::Zero("fixed_limit")) } else { Ok(Box::new(FixedLimit::new(limit))) });
        self
    }

    /// A rate limit checked for every request.
    pub fn rate_limit(mut self, rate: RateLimit) -> Self {
        self.rate = Some(rate);
        self
    }

    /// A keyed rate limit checked for requests that carry a key.
    pub fn keyed_rate_limit(mut self, keyed: KeyedRateLimit) -> Self {
        self.keyed = Some(keyed);
        self
    }

    /// A distributed rate limit (Redis), checked by `acquire` and `acquire_now`.
    pub fn rate_limit_store(mut self, store: impl crate::rate::RateLimitStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Reserves per priority level.
    pub fn priority_shares(mut self, shares: PriorityShares) -> Self {
        self.shares = shares;
        self
    }

    /// A wait queue for `acquire`: at most `capacity` waiters, each waiting at most `timeout`.
    pub fn queue(mut self, capacity: usize, timeout: Duration) -> Self {
        self.queue_capacity = capacity;
        self.queue_timeout = timeout;
        self
    }

    /// Which waiter of a level goes first (default FIFO).
    pub fn queue_order(mut self, order: QueueOrder) -> Self {
        self.queue_order = order;
        self
    }

    /// Control window: closes after `min` with `min_samples` completions, or after `max`
    /// (with at least one completion). `min` must be above zero and `max` at most an hour.
    pub fn window(mut self, min: Duration, max: Duration, min_samples: u64) -> Self {
        self.window = WindowPolicy { min, max, min_samples };
        self
    }

    /// An overload signal that tightens admission when its pressure reaches 1.
    pub fn overload_signal(mut self, signal: impl OverloadSignal) -> Self {
        self.signals.push(Arc::new(signal));
        self
    }

    /// Measure the latency of one admitted request in `n` per thread (1 measures
    /// every request; default 8; at most 65,536). Unmeasured requests skip two clock readings and the lock; a request
    /// marked [`dropped`](crate::Permit::dropped) is always reported.
    pub fn sample_every(mut self, n: u32) -> Self {
        self.sample_every = n;
        self
    }

    /// The clock used to measure latency (default: the rate limit's clock if there is one, so
    /// one reading serves both, else [`TokioClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Checks the settings and builds the controller.
    ///
    /// # Errors
    ///
    /// A bad limit, a queue above 10⁶ waiters or with a zero timeout or one above a day, a
    /// window whose `min` is zero or above `max` or whose `max` is above an hour,
    /// `min_samples` of 0, or `sample_every` of 0 or above 65,536.
    pub fn build(self) -> Result<AdmissionController, ConfigError> {
        let limit = match self.limit {
            Some(l) => l?,
            None => Box::new(Vegas::new(VegasConfig::default())?),
        };
        if self.queue_capacity > MAX_QUEUE {
            return Err(ConfigError::Queue("capacity above 1,000,000"));
        }
        if self.queue_capacity > 0 && self.queue_timeout.is_zero() {
            return Err(ConfigError::Queue("a queue needs a non-zero timeout"));
        }
        if self.queue_timeout > MAX_QUEUE_TIMEOUT {
            return Err(ConfigError::Queue("a queue timeout above one day"));
        }
        let w = self.window;
        if w.min.is_zero() || w.min > w.max {
            return Err(ConfigError::Window("min must be above zero and at most max"));
        }
        if w.max > MAX_WINDOW {
            return Err(ConfigError::Window("max must be at most one hour"));
        }
        if w.min_samples == 0 {
            return Err(ConfigError::Window("min_samples must be at least 1"));
        }
        if self.sample_every == 0 || self.sample_every > MAX_SAMPLE_EVERY {
            return Err(ConfigError::Window("sample_every must be between 1 and 65,536"));
        }
        let clock = match (self.clock, &self.rate) {
            (Some(c), _) => c,
            (None, Some(rate)) => Arc::clone(rate.clock()),
            (None, None) => Arc::new(TokioClock::new()),
        };
        let rate_shares_clock = self.rate.as_ref().is_some_and(|r| Arc::ptr_eq(r.clock(), &clock));
        let limit_now = limit.limit().clamp(1, super::inner::MAX_INFLIGHT);
        let caps = self.shares.caps(limit_now).map(AtomicUsize::new);
        let core = Core {
            limit,
            window: Window::new(crate::clock::now(&*clock), 0),
            queue: WaitQueue::new(self.queue_capacity, self.queue_order),
            windows: 0,
        };
        let queue_timeout = if self.queue_capacity == 0 { Duration::ZERO } else { self.queue_timeout };
        let keeps_spare = self.signals.is_empty() && self.store.is_none();
        Ok(AdmissionController {
            inner: Arc::new(Inner {
                keeps_spare,
                metrics: super::metrics::Handles::new(&self.name),
                last_rtt_nanos: AtomicU64::new(0),
                name: self.name,
                clock,
                rate: self.rate,
                rate_shares_clock,
                keyed: self.keyed,
                store: self.store,
                sample_every: self.sample_every,
                slots: AtomicU64::new(0),
                caps,
                limit_now: AtomicUsize::new(limit_now),
                queued: AtomicUsize::new(0),
                admitted_sampled: Default::default(),
                shares: self.shares,
                window: w,
                queue_timeout,
                signals: self.signals,
                shed_levels: AtomicUsize::new(0),
                overload_read_at: AtomicU64::new(0),
                rejected: Default::default(),
                core: Mutex::new(core),
            }),
        })
    }
}
