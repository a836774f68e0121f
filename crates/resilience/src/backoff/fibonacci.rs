//! The Fibonacci schedule.

use std::time::Duration;

use super::api::{jittered, within_limit, Backoff};
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

    /// The delay before jitter for `attempt`: `F(attempt) · base` capped at `max`, with
    /// `F(1) = F(2) = 1` (attempt 0 is treated as 1). O(1) for any attempt: `F(n)` comes from a
    /// table, and from `n = 137` on `F(n)` nanoseconds alone is longer than `Duration::MAX`.
    #[must_use]
    pub fn ceiling(&self, attempt: u32) -> Duration {
        if self.base.is_zero() {
            return Duration::ZERO;
        }
        let fib = usize::try_from(attempt.max(1)).ok().and_then(|n| FIB.get(n).copied());
        fib.and_then(|f| f.checked_mul(self.base.as_nanos()))
            .and_then(duration_from_nanos)
            .map_or(self.max, |d| d.min(self.max))
    }
}

/// `FIB[n]` is the n-th Fibonacci number (`FIB[1] = FIB[2] = 1`), past the first one whose
/// nanoseconds exceed `Duration::MAX` (F(137) ≈ 1.91 · 10^28 ns > 1.84 · 10^28 ns); a
/// larger `n` saturates.
const FIB: [u128; 140] = {
    let mut f = [0u128; 140];
    f[1] = 1;
    let mut n = 2;
    while n < f.len() {
        f[n] = f[n - 1] + f[n - 2];
        n += 1;
    }
    f
};

fn duration_from_nanos(nanos: u128) -> Option<Duration> {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let secs = u64::try_from(nanos / NANOS_PER_SEC).ok()?;
    let sub = u32::try_from(nanos % NANOS_PER_SEC).ok()?;
    Some(Duration::new(secs, sub))
}

impl Backoff for Fibonacci {
    fn delay(&self, attempt: u32) -> Option<Duration> {
        if !within_limit(attempt, self.max_retries) {
            return None;
        }
        let c = self.ceiling(attempt);
        Some(match &self.jitter {
            Some(j) => jittered(c, j.unit()),
            None => c,
        })
    }
}
