//! The [`Backoff`] trait and the [`Delays`] iterator over a schedule.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A retry delay schedule.
///
/// `attempt` counts retries from 1: `delay(1)` is the wait after the first failure, before the
/// second try. `None` means the schedule is exhausted (no more retries).
///
/// The built-in schedules answer any attempt, up to `u32::MAX`, in O(1) or O(log attempt)
/// (closed forms and saturating arithmetic, no stepping through earlier attempts), so a
/// durable queue can ask for the delay of attempt 4 billion as cheaply as for attempt 2.
/// [`BackonSchedule`](super::BackonSchedule) steps a backon iterator, and reads at most
/// [`BackonSchedule::MAX_STEPS`](super::BackonSchedule::MAX_STEPS) of it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use perfstack_resilience::backoff::{Backoff, Exponential};
///
/// let schedule = Exponential::new(Duration::from_millis(100), Duration::from_secs(5)).without_jitter();
/// assert_eq!(schedule.delay(1), Some(Duration::from_millis(100)));
/// assert_eq!(schedule.delay(3), Some(Duration::from_millis(400)));
/// assert_eq!(schedule.delay(20), Some(Duration::from_secs(5)));
/// let first_three: Vec<_> = schedule.delays().take(3).collect();
/// assert_eq!(first_three.len(), 3);
/// ```
pub trait Backoff: Send + Sync + fmt::Debug {
    /// The delay before retry number `attempt` (1-based), or `None` when no retry is left.
    fn delay(&self, attempt: u32) -> Option<Duration>;

    /// The delay before retry `attempt` when the previous delay is known. Schedules that depend
    /// on the previous delay (decorrelated jitter) override this; the default ignores it.
    fn next_delay(&self, attempt: u32, previous: Option<Duration>) -> Option<Duration> {
        let _ = previous;
        self.delay(attempt)
    }

    /// The schedule as an iterator of delays (which is also a [`backon::Backoff`]).
    fn delays(self) -> Delays<Self>
    where
        Self: Sized,
    {
        Delays { schedule: self, attempt: 0, previous: None }
    }
}

impl<B: Backoff + ?Sized> Backoff for Arc<B> {
    fn delay(&self, attempt: u32) -> Option<Duration> {
        (**self).delay(attempt)
    }
    fn next_delay(&self, attempt: u32, previous: Option<Duration>) -> Option<Duration> {
        (**self).next_delay(attempt, previous)
    }
}

impl<B: Backoff + ?Sized> Backoff for Box<B> {
    fn delay(&self, attempt: u32) -> Option<Duration> {
        (**self).delay(attempt)
    }
    fn next_delay(&self, attempt: u32, previous: Option<Duration>) -> Option<Duration> {
        (**self).next_delay(attempt, previous)
    }
}

impl<B: Backoff + ?Sized> Backoff for &B {
    fn delay(&self, attempt: u32) -> Option<Duration> {
        (**self).delay(attempt)
    }
    fn next_delay(&self, attempt: u32, previous: Option<Duration>) -> Option<Duration> {
        (**self).next_delay(attempt, previous)
    }
}

/// The delays of a [`Backoff`] schedule in order; built by [`Backoff::delays`].
///
/// It implements `Iterator<Item = Duration>`, so it is a [`backon::Backoff`] and drives
/// `backon`'s `Retryable` too.
#[derive(Debug, Clone)]
pub struct Delays<B> {
    schedule: B,
    attempt: u32,
    previous: Option<Duration>,
}

impl<B: Backoff> Iterator for Delays<B> {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.attempt = self.attempt.checked_add(1)?;
        let d = self.schedule.next_delay(self.attempt, self.previous)?;
        self.previous = Some(d);
        Some(d)
    }
}

/// `base * factor^(attempt-1)`, capped at `max`, without overflow or NaN; O(log attempt)
/// (`powi` squares).
pub(crate) fn capped_growth(base: Duration, factor: f64, attempt: u32, max: Duration) -> Duration {
    let exp = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
    let secs = base.as_secs_f64() * factor.powi(exp);
    if !secs.is_finite() || secs >= max.as_secs_f64() {
        max
    } else {
        Duration::try_from_secs_f64(secs.max(0.0)).map_or(max, |d| d.min(max))
    }
}

/// `d * unit` for a jitter draw `unit` in `[0, 1)`, never above `d` (float rounding of a
/// huge `d` cannot overflow or exceed it).
pub(crate) fn jittered(d: Duration, unit: f64) -> Duration {
    Duration::try_from_secs_f64(d.as_secs_f64() * unit).map_or(d, |j| j.min(d))
}

pub(crate) fn within_limit(attempt: u32, max_retries: Option<u32>) -> bool {
    attempt >= 1 && max_retries.is_none_or(|m| attempt <= m)
}
