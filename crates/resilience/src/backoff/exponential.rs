//! The exponential schedule, with full jitter by default.

use std::time::Duration;

use super::api::{capped_growth, jittered, within_limit, Backoff};
use super::jitter::Jitter;

/// Exponential backoff, `base * factor^(attempt-1)` capped at `max`, with *full jitter* by
/// default: the delay is uniform in `[0, ceiling]` (the AWS "full jitter" schedule, which
/// spreads synchronised clients best).
///
/// The un-jittered ceiling equals `backon::ExponentialBuilder` with the same settings.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use perfstack_resilience::backoff::{Backoff, Exponential};
///
/// let s = Exponential::new(Duration::from_millis(50), Duration::from_secs(2)).max_retries(4);
/// let d = s.delay(3).unwrap();
/// assert!(d <= Duration::from_millis(200));
/// assert_eq!(s.delay(5), None);
/// ```
#[derive(Debug, Clone)]
pub struct Exponential {
    base: Duration,
    max: Duration,
    factor: f64,
    max_retries: Option<u32>,
    jitter: Option<Jitter>,
}

impl Exponential {
    /// Doubling from `base` up to `max`, full jitter, no retry limit of its own.
    #[must_use]
    pub fn new(base: Duration, max: Duration) -> Self {
        Self { base, max: max.max(base), factor: 2.0, max_retries: None, jitter: Some(Jitter::new()) }
    }

    /// Growth factor per retry (values below 1 or NaN are treated as 1).
    #[must_use]
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = if factor.is_nan() || factor < 1.0 { 1.0 } else { factor };
        self
    }

    /// Stop after this many retries.
    #[must_use]
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = Some(n);
        self
    }

    /// Plain exponential delays (the ceiling itself).
    #[must_use]
    pub fn without_jitter(mut self) -> Self {
        self.jitter = None;
        self
    }

    /// Full jitter from a seeded source (reproducible tests).
    #[must_use]
    pub fn with_jitter_seed(mut self, seed: u64) -> Self {
        self.jitter = Some(Jitter::seeded(seed));
        self
    }

    /// The delay before jitter for `attempt`.
    #[must_use]
    pub fn ceiling(&self, attempt: u32) -> Duration {
        capped_growth(self.base, self.factor, attempt, self.max)
    }
}

impl Backoff for Exponential {
    fn delay(&self, attempt: u32) -> Option<Duration> {
        if !within_limit(attempt, self.max_retries) {
            return None;
        }
        let ceiling = self.ceiling(attempt);
        Some(match &self.jitter {
            Some(j) => jittered(ceiling, j.unit()),
            None => ceiling,
        })
    }
}
