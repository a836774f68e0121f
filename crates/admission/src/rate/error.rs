//! [`RateLimited`]: a request a rate limit refused, and when to retry.

use std::time::Duration;

/// A request refused by a rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limited; retry after {retry_after:?}")]
pub struct RateLimited {
    /// The earliest time from now at which one cell would conform.
    pub retry_after: Duration,
}

/// The refusal for a GCRA wait of `wait_ns` nanoseconds.
pub(crate) fn limited(wait_ns: u64) -> RateLimited {
    RateLimited { retry_after: Duration::from_nanos(wait_ns) }
}
