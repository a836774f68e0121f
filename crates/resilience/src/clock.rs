//! Time sources: the tokio clock for production and a manual clock for tests.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A monotonic time source in nanoseconds since an arbitrary origin.
///
/// Decision logic (breaker windows, the retry budget, throttling) reads time only through this
/// trait, so tests drive it explicitly with [`ManualClock`] or with paused tokio time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Nanoseconds since this clock's origin; never decreases.
    fn now_nanos(&self) -> u64;
}

/// The default clock: `tokio::time::Instant`, so `tokio::time::pause()` and `advance()` move it.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock whose origin is now.
    #[must_use]
    pub fn new() -> Self {
        Self { origin: tokio::time::Instant::now() }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now_nanos(&self) -> u64 {
        let d = tokio::time::Instant::now().saturating_duration_since(self.origin);
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
    }
}

/// A clock that moves only when told to; clones share the same time.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use perfstack_resilience::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// clock.advance(Duration::from_millis(5));
/// assert_eq!(clock.now_nanos(), 5_000_000);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at time zero.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by`, stopping at `u64::MAX` nanoseconds (about 584 years):
    /// the clock never wraps back.
    pub fn advance(&self, by: Duration) {
        let by = duration_nanos(by);
        // Never fails: the closure always returns `Some`.
        let _ = self.nanos.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| Some(n.saturating_add(by)));
    }

    /// Sets the clock to `nanos` (ignored if that would move it backwards).
    pub fn set_nanos(&self, nanos: u64) {
        self.nanos.fetch_max(nanos, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_nanos(&self) -> u64 {
        self.nanos.load(Ordering::SeqCst)
    }
}

/// A clock that reads one atomic: a tokio task stores the time every `resolution`. For hot
/// paths that only need coarse time (the retry budget's slots are a second wide) and cannot
/// afford a clock read per call. Works with paused tokio time (the ticker is a tokio interval).
/// The ticker stops when the last clone is dropped.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use perfstack_resilience::{Clock, CoarseClock, RetryBudget};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let clock = CoarseClock::spawn(Duration::from_millis(1)).unwrap();
/// let budget = RetryBudget::builder().clock(clock.clone()).build().unwrap();
/// budget.deposit();
/// assert!(clock.now_nanos() < 1_000_000_000);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CoarseClock {
    nanos: Arc<AtomicU64>,
}

impl CoarseClock {
    /// Starts the ticker on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoRuntime`](crate::ConfigError::NoRuntime) outside a tokio runtime, and
    /// [`ConfigError::ZeroDuration`](crate::ConfigError::ZeroDuration) for a zero resolution.
    pub fn spawn(resolution: Duration) -> Result<Self, crate::ConfigError> {
        crate::error::check_nonzero_duration("resolution", resolution)?;
        let handle = tokio::runtime::Handle::try_current().map_err(|_| crate::ConfigError::NoRuntime)?;
        let nanos = Arc::new(AtomicU64::new(0));
        let weak = Arc::downgrade(&nanos);
        let origin = tokio::time::Instant::now();
        handle.spawn(async move {
            let mut ticks = tokio::time::interval(resolution);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                ticks.tick().await;
                let Some(n) = weak.upgrade() else { break };
                n.store(duration_nanos(origin.elapsed()), Ordering::Release);
            }
        });
        Ok(Self { nanos })
    }
}

impl Clock for CoarseClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        self.nanos.load(Ordering::Acquire)
    }
}

/// A duration in whole nanoseconds, saturating at `u64::MAX`.
pub(crate) fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The shared handle type stored by policies.
pub(crate) type SharedClock = Arc<dyn Clock>;

pub(crate) fn default_clock() -> SharedClock {
    Arc::new(TokioClock::new())
}

/// The CPU's time-stamp counter, read through `quanta` (the clock `governor` uses by default):
/// a few nanoseconds per read, where `tokio::time::Instant::now()` is a vDSO `clock_gettime`
/// (25–35 ns on the VMs measured here; see docs/benchmarks.md). Monotonic, full resolution, one
/// calibration shared by the process. Not moved by tokio's paused time: a choice for production
/// hot paths that read the time on every call (a rate limit), not for paused-time tests.
///
/// # Examples
///
/// ```
/// use perfstack_resilience::{Clock, TscClock};
/// let clock = TscClock::new();
/// let a = clock.now_nanos();
/// std::thread::sleep(std::time::Duration::from_millis(2));
/// assert!(clock.now_nanos() >= a + 1_000_000);
/// ```
#[derive(Debug, Clone)]
pub struct TscClock {
    clock: quanta::Clock,
    origin: u64,
}

impl TscClock {
    /// A clock whose epoch is now.
    #[must_use]
    pub fn new() -> Self {
        let clock = quanta::Clock::new();
        let origin = clock.raw();
        Self { clock, origin }
    }
}

impl Default for TscClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TscClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        self.clock.delta_as_nanos(self.origin, self.clock.raw())
    }
}

#[cfg(test)]
mod tsc_tests {
    use super::{Clock, TscClock};

    #[test]
    fn tsc_clock_never_goes_backwards_and_clones_share_the_epoch() {
        let c = TscClock::new();
        let d = c.clone();
        let mut last = 0;
        for _ in 0..100_000 {
            let now = c.now_nanos();
            assert!(now >= last, "went back from {last} to {now}");
            last = now;
        }
        assert!(d.now_nanos() >= last, "a clone counts from the same epoch");
    }
}
