use std::time::Duration;

use crate::rate::{RateConfigError, RateLimited};

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

/// A [`RedisRateLimit`](super::RedisRateLimit) configuration that cannot work, refused by
/// [`build`](super::RedisRateLimitBuilder::build).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RedisConfigError {
    /// A bad rate, burst, lease, instance count or timeout.
    #[error(transparent)]
    Rate(#[from] RateConfigError),
    /// The script counts in whole microseconds (Redis `TIME`; Lua's doubles cannot hold
    /// nanoseconds since the epoch exactly), and this rate's emission interval rounded to a
    /// whole µs would change the rate by more than 1 % (or be 0, above 1,000,000/s).
    #[error(
        "rate {rate}/s cannot be kept in Redis: the emission interval is counted in whole microseconds and the nearest rate is {nearest}/s (more than 1 % off); use at most 20000/s, or a rate whose interval is a whole number of microseconds (at most 1000000/s)"
    )]
    RateNotRepresentable {
        /// The rate asked for, per second.
        rate: f64,
        /// The nearest rate a whole-µs interval gives.
        nearest: f64,
    },
    /// The default circuit breaker could not be built.
    #[error("circuit breaker: {0}")]
    Breaker(#[from] perfstack_resilience::ConfigError),
}
