//! Retry delays.
//!
//! [`Backoff`] is the delay-schedule seam (the workspace's shared trait lives in
//! `perfstack-resilience`; this module adapts to it). A task carries a serialisable
//! [`BackoffPolicy`] so that the PostgreSQL backend can store it next to the task; a handler
//! may also override the schedule for its kind with any [`Backoff`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A delay schedule: how long to wait before retry number `attempt` (1 = the first retry);
/// `None` means no retry is left (the task is dead-lettered).
pub trait Backoff: Send + Sync + std::fmt::Debug {
    /// The delay before retry `attempt` (1-based), or `None` when the schedule is exhausted.
    fn delay(&self, attempt: u32) -> Option<Duration>;
}

/// A retry schedule that can be stored with a task.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use perfstack_task_queue::{Backoff, BackoffPolicy};
///
/// let b = BackoffPolicy::exponential(Duration::from_millis(100), Duration::from_secs(1));
/// assert_eq!(b.delay(1), Some(Duration::from_millis(100)));
/// assert_eq!(b.delay(2), Some(Duration::from_millis(200)));
/// assert_eq!(b.delay(10), Some(Duration::from_secs(1)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum BackoffPolicy {
    /// The same delay before every retry.
    Constant {
        /// Delay in milliseconds.
        delay_ms: u64,
    },
    /// `initial × 2^(attempt-1)`, capped at `max`.
    Exponential {
        /// First delay in milliseconds.
        initial_ms: u64,
        /// Cap in milliseconds.
        max_ms: u64,
    },
}

impl Default for BackoffPolicy {
    /// Exponential from one second up to ten minutes.
    fn default() -> Self {
        Self::exponential(Duration::from_secs(1), Duration::from_secs(600))
    }
}

impl BackoffPolicy {
    /// A constant delay.
    #[must_use]
    pub fn constant(delay: Duration) -> Self {
        Self::Constant { delay_ms: millis(delay) }
    }

    /// Exponential backoff from `initial`, doubling, capped at `max`.
    #[must_use]
    pub fn exponential(initial: Duration, max: Duration) -> Self {
        Self::Exponential { initial_ms: millis(initial), max_ms: millis(max) }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Backoff for BackoffPolicy {
    fn delay(&self, attempt: u32) -> Option<Duration> {
        Some(match *self {
            Self::Constant { delay_ms } => Duration::from_millis(delay_ms),
            Self::Exponential { initial_ms, max_ms } => {
                let shift = attempt.saturating_sub(1).min(40);
                let d = initial_ms.saturating_mul(1u64 << shift).min(max_ms);
                Duration::from_millis(d)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_doubles_and_caps() {
        let b = BackoffPolicy::exponential(Duration::from_millis(10), Duration::from_millis(50));
        let d: Vec<u64> = (1..=5).map(|a| millis(b.delay(a).unwrap_or_default())).collect();
        assert_eq!(d, vec![10, 20, 40, 50, 50]);
        assert_eq!(b.delay(u32::MAX), Some(Duration::from_millis(50)));
    }

    #[test]
    fn policy_round_trips_through_json() {
        let b = BackoffPolicy::constant(Duration::from_millis(7));
        let s = serde_json::to_string(&b).unwrap_or_default();
        assert_eq!(serde_json::from_str::<BackoffPolicy>(&s).ok(), Some(b));
    }
}
