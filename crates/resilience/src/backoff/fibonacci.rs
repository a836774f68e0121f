use std::time::Duration;

use super::api::{within_limit, Backoff};
use super::jitter::Jitter;

/// Fibonacci backoff: `base, base, 2·base, 3·base, 5·base, …` capped at `max`, optionally
/// with full jitter. Grows more gently than doubling.
///
/// The sequence equals `backon::FibonacciBuilder` without jitter.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use perfstack_resilience::backoff::{Backoff, Fibonacci};
///
/// let s = Fibonacci::new(Duration::from_millis(10), Duration::from_secs(1));
/// let ms: Vec<u128> = s.delays().take(6).map(|d| d.as_millis()).collect();
/// assert_eq!(ms, vec![10, 10, 20, 30, 50, 80]);
/// ```
#[derive(Debug, Clone)]
pub struct Fibonacci {
    base: Duration,
    max: Duration,
    max_retries: Option<u32>,
    jitter: Option<Jitter>,
}

impl Fibonacci {
    /// Fibonacci multiples of `base` up to `max`, without jitter.
    #[must_use]
    pub fn new(base: Duration, max: Duration) -> Self {
        Self { base, max: max.max(base), max_retries: None, jitter: None }
    }

    /// Stop after this many retries.
    #[must_use]
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = Some(n);
        self
    }

    /// Full jitter: uniform in `[0, fib(attempt)·base]`.
    #[must_use]
    pub fn with_full_jitter(mut self) -> Self {
        self.jitter = Some(Jitter::new());
        self
    }

    /// The delay before jitter for `attempt`.
    #[must_use]
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let (mut a, mut b) = (1u64, 1u64);
        for _ in 1..attempt {
            let next = a.saturating_add(b);
            a = b;
            b = next;
            if self.base.saturating_mul(u32::try_from(a).unwrap_or(u32::MAX)) >= self.max {
                return self.max;
            }
        }
        self.base.saturating_mul(u32::try_from(a).unwrap_or(u32::MAX)).min(self.max)
    }
}

impl Backoff for Fibonacci {
    fn delay(&self, attempt: u32) -> Option<Duration> {
        if !within_limit(attempt, self.max_retries) {
            return None;
        }
        let c = self.ceiling(attempt);
        Some(match &self.jitter {
            Some(j) => c.mul_f64(j.unit()),
            None => c,
        })
    }
}
