//! AWS's decorrelated-jitter schedule.

use std::time::Duration;

use super::api::{capped_growth, jittered, within_limit, Backoff};
use super::jitter::Jitter;

/// Decorrelated jitter (AWS): `next = min(max, uniform(base, previous * 3))`.
///
/// Each delay depends on the previous one; [`Backoff::delays`] and the retry loop pass it.
/// When only the attempt number is known (`delay(attempt)`), `previous` is taken as its largest
/// possible value, `base * 3^(attempt-2)`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use perfstack_resilience::backoff::{Backoff, DecorrelatedJitter};
///
/// let s = DecorrelatedJitter::new(Duration::from_millis(10), Duration::from_secs(1));
/// for d in s.delays().take(20) {
///     assert!(d >= Duration::from_millis(10) && d <= Duration::from_secs(1));
/// }
/// ```
#[derive(Debug, Clone)]
pub struct DecorrelatedJitter {
    base: Duration,
    max: Duration,
    max_retries: Option<u32>,
    jitter: Jitter,
}

impl DecorrelatedJitter {
    /// Delays between `base` and `max`.
    #[must_use]
    pub fn new(base: Duration, max: Duration) -> Self {
        Self { base, max: max.max(base), max_retries: None, jitter: Jitter::new() }
    }

    /// Stop after this many retries.
    #[must_use]
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = Some(n);
        self
    }

    /// A seeded random source (reproducible tests).
    #[must_use]
    pub fn with_jitter_seed(mut self, seed: u64) -> Self {
        self.jitter = Jitter::seeded(seed);
        self
    }
}

impl Backoff for DecorrelatedJitter {
    fn delay(&self, attempt: u32) -> Option<Duration> {
        let previous = (attempt > 1).then(|| capped_growth(self.base, 3.0, attempt - 1, self.max));
        self.next_delay(attempt, previous)
    }

    fn next_delay(&self, attempt: u32, previous: Option<Duration>) -> Option<Duration> {
        if !within_limit(attempt, self.max_retries) {
            return None;
        }
        let Some(prev) = previous else { return Some(self.base) };
        let hi = prev.saturating_mul(3).min(self.max).max(self.base);
        let span = hi.saturating_sub(self.base);
        Some(self.base.saturating_add(jittered(span, self.jitter.unit())).min(self.max))
    }
}
