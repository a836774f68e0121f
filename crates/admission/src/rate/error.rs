use std::time::Duration;

/// A rate-limit configuration that cannot work, refused when it is built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RateConfigError {
    /// Rate or burst is zero, negative, NaN or infinite.
    #[error("{name} = {value} must be a finite number above zero")]
    NotPositive {
        /// The parameter.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// A burst so large that the bucket never limits anything in practice.
    #[error("burst {burst} is above the maximum {max}")]
    AbsurdBurst {
        /// Burst asked for.
        burst: u64,
        /// Highest burst accepted.
        max: u64,
    },
    /// A replenish interval below one nanosecond or above a year.
    #[error("replenish interval {0:?} is outside [1 ns, 365 days]")]
    Interval(Duration),
    /// A keyed limiter needs a bound on its keys.
    #[error("max_keys must be between 1 and {max}, got {got}")]
    MaxKeys {
        /// Value given.
        got: usize,
        /// Highest accepted.
        max: usize,
    },
}

/// A request refused by a rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limited; retry after {retry_after:?}")]
pub struct RateLimited {
    /// The earliest time from now at which one cell would conform.
    pub retry_after: Duration,
}
