//! Time sources. Library code reads time only through [`Clock`], so tests drive it by hand
//! ([`ManualClock`]) or with tokio's paused clock ([`TokioClock`], the default).

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A monotonic clock: time elapsed since the clock's own epoch.
pub trait Clock: Send + Sync + Debug + 'static {
    /// Elapsed time since this clock's epoch; never goes backwards.
    fn now(&self) -> Duration;
}

/// `tokio::time::Instant`, so a paused test runtime controls it. The default clock.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    epoch: tokio::time::Instant,
}

impl TokioClock {
    /// A clock whose epoch is now.
    #[must_use]
    pub fn new() -> Self {
        Self { epoch: tokio::time::Instant::now() }
    }

    /// The tokio instant this clock counts from.
    #[must_use]
    pub fn epoch(&self) -> tokio::time::Instant {
        self.epoch
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    #[inline]
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }
}

/// A clock moved only by [`advance`](ManualClock::advance); clones share the time.
///
/// # Examples
///
/// ```
/// use perfstack_admission::clock::{Clock, ManualClock};
/// use std::time::Duration;
/// let c = ManualClock::default();
/// c.advance(Duration::from_millis(5));
/// assert_eq!(c.now(), Duration::from_millis(5));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let ns = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.0.fetch_add(ns, Ordering::AcqRel);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Acquire))
    }
}
