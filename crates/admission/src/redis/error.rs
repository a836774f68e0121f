//! [`RedisRateError`]: why a distributed rate-limit check refused.

use std::time::Duration;

use crate::rate::RateLimited;

/// Errors from the distributed limit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisRateError {
    /// The request is over the limit.
    #[error(transparent)]
    Limited(#[from] RateLimited),
    /// Redis failed and the policy is fail-closed.
    #[error("redis unavailable (fail closed): {0}")]
    Unavailable(#[source] fred::error::Error),
    /// Redis did not answer within the timeout and the policy is fail-closed.
    #[error("redis did not answer within {0:?} (fail closed)")]
    Timeout(Duration),
    /// Redis is known to be down (the circuit breaker is open), the policy is fail-closed and
    /// no round trip was made.
    #[error("redis known unavailable, circuit open (fail closed); retry after {retry_after:?}")]
    CircuitOpen {
        /// Time until the breaker lets a probe through, when known.
        retry_after: Option<Duration>,
    },
}
