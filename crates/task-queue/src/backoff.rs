//! Retry delays.
//!
//! [`Backoff`] is `perfstack-resilience`'s delay-schedule trait. A task carries a serialisable
//! [`BackoffPolicy`] so that the PostgreSQL backend can store it next to the task; a handler
//! may also override the schedule for its kind with any [`Backoff`] (for example
//! `perfstack_resilience::backoff::DecorrelatedJitter`).

use std::time::Duration;

use perfstack_resilience::backoff::{Constant, Exponential};
use serde::{Deserialize, Serialize};

pub use perfstack_resilience::backoff::Backoff;

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
    /// `initial × 2^(attempt-1)`, capped at `max`; with `jitter`, uniform in `[0, that]`
    /// (full jitter, which spreads retries of tasks that failed together).
    Exponential {
        /// First delay in milliseconds.
        initial_ms: u64,
        /// Cap in milliseconds.
        max_ms: u64,
        /// Full jitter.
        #[serde(default)]
        jitter: bool,
    },
}

impl Default for BackoffPolicy {
    /// Exponential from one second up to ten minutes, with full jitter.
    fn default() -> Self {
        Self::exponential(Duration::from_secs(1), Duration::from_secs(600)).with_jitter()
    }
}

impl BackoffPolicy {
    /// A constant delay.
    #[must_use]
    pub fn constant(delay: Duration) -> Self {
        Self::Constant { delay_ms: millis(delay) }
    }

    /// Exponential backoff from `initial`, doubling, capped at `max`, without jitter.
    #[must_use]
    pub fn exponential(initial: Duration, max: Duration) -> Self {
        Self::Exponential { initial_ms: millis(initial), max_ms: millis(max), jitter: false }
    }

    /// The same schedule with full jitter (exponential only; a constant delay is unchanged).
    #[must_use]
    pub fn with_jitter(self) -> Self {
        match self {
            Self::Exponential { initial_ms, max_ms, .. } => Self::Exponential { initial_ms, max_ms, jitter: true },
            other => other,
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Backoff for BackoffPolicy {
    fn delay(&self, attempt: u32) -> Option<Duration> {
        // The arithmetic is resilience's; the policy only stores the parameters.
        match *self {
            Self::Constant { delay_ms } => Constant::new(Duration::from_millis(delay_ms)).delay(attempt),
            Self::Exponential { initial_ms, max_ms, jitter } => {
                let e = Exponential::new(Duration::from_millis(initial_ms), Duration::from_millis(max_ms));
                if jitter {
                    e.delay(attempt)
                } else {
                    e.without_jitter().delay(attempt)
                }
            }
        }
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
    fn jitter_stays_below_the_ceiling() {
        let b = BackoffPolicy::exponential(Duration::from_millis(100), Duration::from_secs(1)).with_jitter();
        for a in 1..20 {
            assert!(b.delay(a).unwrap_or_default() <= Duration::from_secs(1));
        }
        assert!(matches!(BackoffPolicy::default(), BackoffPolicy::Exponential { jitter: true, .. }));
    }

    #[test]
    fn policy_round_trips_through_json() {
        let b = BackoffPolicy::constant(Duration::from_millis(7));
        let s = serde_json::to_string(&b).unwrap_or_default();
        assert_eq!(serde_json::from_str::<BackoffPolicy>(&s).ok(), Some(b));
    }
}
