//! The public handle: admit, record, call, operate.

use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_utils::CachePadded;

use super::builder::BreakerBuilder;
use super::classify::{Classifier, ErrIsFailure};
use super::config::{BreakerConfig, WindowConfig};
use super::core::{Inner, Outcome, Thresholds};
use super::error::CircuitOpen;
use super::events::Listener;
use super::permit::{OwnedPermit, Permit};
use super::state::{State, Word};
use super::stats::BreakerStats;
use super::window::{CountWindow, TimeWindow, Window};
use crate::backoff::{Backoff, Constant, Exponential};
use crate::clock::{duration_nanos, SharedClock};
use crate::counter::LazyCounter;
use crate::error::{ConfigError, Error};

/// A lock-free circuit breaker (Resilience4j's state machine). Cheap to clone: clones share
/// one state.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use perfstack_resilience::{CircuitBreaker, State};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let breaker = CircuitBreaker::builder("payments")
///     .failure_rate_threshold(50.0)
///     .count_window(10)
///     .minimum_calls(4)
///     .wait_in_open(Duration::from_secs(5))
///     .half_open_probes(2)
///     .build()
///     .unwrap();
///
/// for _ in 0..4 {
///     let _ = breaker.call(async { Err::<(), _>("downstream down") }).await;
/// }
/// assert_eq!(breaker.state(), State::Open);
/// assert!(breaker.call(async { Ok::<_, &str>(1) }).await.unwrap_err().is_rejection());
///
/// // Without the async helper: acquire a permit, report the outcome.
/// match breaker.try_acquire() {
///     Ok(permit) => permit.success(),
///     Err(open) => assert!(open.retry_after.is_some()),
/// };
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    pub(crate) inner: Arc<Inner>,
}

impl CircuitBreaker {
    /// A builder with the defaults of [`BreakerConfig`].
    pub fn builder(name: impl Into<String>) -> BreakerBuilder {
        BreakerBuilder::new(name)
    }

    /// A breaker from a serde configuration.
    ///
    /// # Errors
    ///
    /// When a setting is invalid (see [`BreakerConfig::validate`]).
    pub fn from_config(config: BreakerConfig) -> Result<Self, ConfigError> {
        BreakerBuilder::from_config(config).build()
    }

    pub(crate) fn assemble(
        cfg: &BreakerConfig,
        clock: SharedClock,
        listeners: Vec<Listener>,
        open_schedule: Option<Arc<dyn Backoff>>,
    ) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let (window, time_window) = match cfg.window {
            WindowConfig::Count { size } => (Window::Count(CountWindow::new(size)), false),
            WindowConfig::Time { length, buckets } => {
                (Window::Time(TimeWindow::new(buckets, duration_nanos(length / buckets))), true)
            }
        };
        let open_schedule: Arc<dyn Backoff> = match (open_schedule, cfg.max_wait_in_open) {
            (Some(s), _) => s,
            (None, Some(max)) => Arc::new(Exponential::new(cfg.wait_in_open, max).without_jitter()),
            (None, None) => Arc::new(Constant::new(cfg.wait_in_open)),
        };
        let slow_nanos = cfg.slow_call_duration.map(duration_nanos);
        let th = Thresholds {
            failure_rate: cfg.failure_rate_threshold,
            slow_rate: cfg.slow_call_rate_threshold,
            slow_nanos,
            min_calls: u64::from(cfg.minimum_calls),
            probes: cfg.half_open_probes,
            needs_time: slow_nanos.is_some() || time_window,
        };
        let name: Arc<str> = cfg.name.as_str().into();
        metrics::gauge!("perfstack_resilience_breaker_state", "name" => cfg.name.clone())
            .set(State::Closed.gauge_value());
        Ok(Self {
            inner: Arc::new(Inner {
                word: CachePadded::new(AtomicU64::new(Word::new(State::Closed, 0).pack())),
                window,
                th,
                open_until: AtomicU64::new(0),
                consecutive_opens: AtomicU32::new(0),
                open_schedule,
                rejected: AtomicU64::new(0),
                rejected_counter: LazyCounter::new("perfstack_resilience_breaker_rejected_total", name.clone()),
                stale: AtomicU64::new(0),
                transitions: AtomicU64::new(0),
                clock,
                listeners,
                watchers: parking_lot::Mutex::new(Vec::new()),
                name,
            }),
        })
    }

    /// Calls `listener` on every later state change while the listener is alive elsewhere
    /// (the breaker holds it weakly).
    pub(crate) fn watch(&self, listener: super::events::WeakListener) {
        self.inner.watchers.lock().push(listener);
    }

    /// Asks to make one call. Lock-free; in the closed state a single atomic load.
    ///
    /// # Errors
    ///
    /// [`CircuitOpen`] when open, forced open, or half-open with every probe handed out.
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_>, CircuitOpen> {
        match self.inner.acquire() {
            Ok(core) => Ok(Permit { inner: &self.inner, core, done: false }),
            Err(r) => Err(self.open_error(r.retry_after)),
        }
    }

    /// Like [`try_acquire`](Self::try_acquire), returning a permit that owns a breaker handle.
    ///
    /// # Errors
    ///
    /// [`CircuitOpen`] as for `try_acquire`.
    pub fn try_acquire_owned(&self) -> Result<OwnedPermit, CircuitOpen> {
        match self.inner.acquire() {
            Ok(core) => Ok(OwnedPermit { inner: self.inner.clone(), core, done: false }),
            Err(r) => Err(self.open_error(r.retry_after)),
        }
    }

    /// Refuses when [`try_acquire`](Self::try_acquire) would refuse now, without taking a
    /// permit (the pipeline checks before it queues in a bulkhead, and acquires after).
    pub(crate) fn precheck(&self) -> Result<(), CircuitOpen> {
        self.inner.precheck().map_err(|r| self.open_error(r.retry_after))
    }

    fn open_error(&self, retry_after: Option<Duration>) -> CircuitOpen {
        CircuitOpen { name: self.inner.name.clone(), retry_after }
    }

    /// Runs `fut` if the breaker admits it; `Err` counts as a failure.
    ///
    /// # Errors
    ///
    /// [`Error::CircuitOpen`] when refused, [`Error::Inner`] with the call's own error.
    pub async fn call<F, T, E>(&self, fut: F) -> Result<T, Error<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        self.call_with(&ErrIsFailure, fut).await
    }

    /// Runs `fut` if admitted and records the outcome `classifier` gives its result. A call
    /// cancelled (dropped) mid-flight records nothing.
    ///
    /// # Errors
    ///
    /// [`Error::CircuitOpen`] when refused, [`Error::Inner`] with the call's own error.
    pub async fn call_with<C, F, T, E>(&self, classifier: &C, fut: F) -> Result<T, Error<E>>
    where
        C: Classifier<T, E> + ?Sized,
        F: Future<Output = Result<T, E>>,
    {
        let permit = self.try_acquire()?;
        let result = fut.await;
        permit.record(classifier.classify(&result));
        result.map_err(Error::Inner)
    }

    /// Runs a synchronous closure under the breaker.
    ///
    /// # Errors
    ///
    /// [`Error::CircuitOpen`] when refused, [`Error::Inner`] with the closure's error.
    #[inline]
    pub fn call_sync<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, Error<E>> {
        let permit = self.try_acquire()?;
        let result = f();
        permit.record(if result.is_ok() { Outcome::Success } else { Outcome::Failure });
        result.map_err(Error::Inner)
    }

    /// The current state.
    #[must_use]
    pub fn state(&self) -> State {
        Word::unpack(self.inner.word.load(Ordering::Acquire)).state
    }

    /// The generation: how many transitions happened.
    #[must_use]
    pub fn generation(&self) -> u64 {
        Word::unpack(self.inner.word.load(Ordering::Acquire)).generation
    }

    /// The name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Refuse every call until [`reset`](Self::reset) (or another manual change).
    pub fn force_open(&self) {
        self.inner.force(State::ForcedOpen);
    }

    /// Admit every call and never trip, until [`reset`](Self::reset).
    pub fn force_closed(&self) {
        self.inner.force(State::ForcedClosed);
    }

    /// Switch the breaker off: admit everything, record nothing.
    pub fn disable(&self) {
        self.inner.force(State::Disabled);
    }

    /// Back to closed with an empty window.
    pub fn reset(&self) {
        self.inner.force(State::Closed);
    }

    /// A snapshot of state and window.
    #[must_use]
    pub fn stats(&self) -> BreakerStats {
        let w = Word::unpack(self.inner.word.load(Ordering::Acquire));
        let snap = self.inner.window.snapshot(self.inner.clock.now_nanos());
        let rate = |n: u64| if snap.calls == 0 { 0.0 } else { n as f64 * 100.0 / snap.calls as f64 };
        BreakerStats {
            name: self.inner.name.to_string(),
            state: w.state,
            generation: w.generation,
            window_calls: snap.calls,
            window_failures: snap.failed,
            window_slow_calls: snap.slow,
            failure_rate: rate(snap.failed),
            slow_call_rate: rate(snap.slow),
            rejected: self.inner.rejected.load(Ordering::Relaxed),
            stale_outcomes: self.inner.stale.load(Ordering::Relaxed),
        }
    }
}
