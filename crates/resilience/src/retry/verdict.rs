//! What a retry-if predicate answers after a failed attempt.

use std::time::Duration;

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Give up and return the error.
    Stop,
    /// Retry after the schedule's delay.
    Retry,
    /// Retry after this delay (a `Retry-After` hint from the server), instead of the schedule.
    RetryAfter(Duration),
}
