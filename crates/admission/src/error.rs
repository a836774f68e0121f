//! [`ConfigError`]: the one error every builder, constructor and `validate` of the crate
//! returns for settings that cannot work.

use std::time::Duration;

use crate::Priority;

/// A configuration that cannot work, refused when it is built: by
/// [`AdmissionControllerBuilder::build`](crate::AdmissionControllerBuilder::build), the limit
/// algorithms' `new`, the rate limits' constructors and builders, the overload signals'
/// constructors, [`PriorityShares::new`](crate::PriorityShares::new) (and its serde form) and
/// the Redis rate limit's builder. Nothing is checked later, at call time.
///
/// # Examples
///
/// ```
/// use perfstack_admission::{AdmissionController, ConfigError};
/// let err = AdmissionController::builder().fixed_limit(0).build().unwrap_err();
/// assert_eq!(err, ConfigError::Zero("fixed_limit"));
/// assert_eq!(err.to_string(), "fixed_limit must be at least 1");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A limit bound that must be at least 1 is 0.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// A limit's `min_limit` is greater than its `max_limit`.
    #[error("min_limit {min} is greater than max_limit {max}")]
    Inverted {
        /// The minimum.
        min: usize,
        /// The maximum.
        max: usize,
    },
    /// A limit's initial value is outside `[min, max]`.
    #[error("initial limit {initial} is outside [{min}, {max}]")]
    InitialOutOfRange {
        /// The initial limit.
        initial: usize,
        /// The minimum.
        min: usize,
        /// The maximum.
        max: usize,
    },
    /// A limit's ratio or factor is NaN, infinite or outside its range.
    #[error("{name} = {value} is not a finite number in [{lo}, {hi}]")]
    OutOfRange {
        /// The parameter.
        name: &'static str,
        /// The value given.
        value: f64,
        /// Lowest allowed.
        lo: f64,
        /// Highest allowed.
        hi: f64,
    },
    /// A rate limit's rate or burst (or a Redis limit's lease or instance count) is zero,
    /// negative, NaN or infinite.
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
    /// A replenish interval below one nanosecond or above a year (or a zero Redis timeout).
    #[error("replenish interval {0:?} is outside [1 ns, 365 days]")]
    Interval(Duration),
    /// A keyed rate limit needs a bound on its keys.
    #[error("max_keys must be between 1 and {max}, got {got}")]
    MaxKeys {
        /// Value given.
        got: usize,
        /// Highest accepted.
        max: usize,
    },
    /// A priority reserve is NaN, negative or ≥ 1.
    #[error("reserved share {value} for {priority:?} must be a number in [0, 1)")]
    Share {
        /// The level.
        priority: Priority,
        /// The value given.
        value: f64,
    },
    /// The reserves above `Low` add up to 1 or more, leaving `Low` nothing.
    #[error("reserved shares add up to {0}, which leaves the lowest level no share")]
    SharesTooLarge(f64),
    /// Queue settings: capacity above 10⁶, or a zero wait with a non-zero capacity, or a wait
    /// above a day.
    #[error("queue: {0}")]
    Queue(&'static str),
    /// Window settings: zero lengths, min above max, max above an hour, zero samples, a
    /// `sample_every` outside 1..=65,536.
    #[error("control window: {0}")]
    Window(&'static str),
    /// An overload signal's threshold (or the scheduler probe's interval) is NaN, infinite or
    /// not above zero.
    #[error("{name} threshold {value} must be a finite number above zero")]
    Threshold {
        /// The signal.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// The scheduler probe interval is above one minute.
    #[error("scheduler probe interval {interval:?} is above the maximum {max:?}")]
    IntervalTooLong {
        /// The interval given.
        interval: Duration,
        /// The longest accepted.
        max: Duration,
    },
    /// The scheduler probe task needs a tokio runtime, and there was none.
    #[error("must be created inside a tokio runtime")]
    NoRuntime,
    /// The Redis script counts in whole microseconds (Redis `TIME`; Lua's doubles cannot hold
    /// nanoseconds since the epoch exactly), and this rate's emission interval rounded to a
    /// whole µs would change the rate by more than 1 % (or be 0, above 1,000,000/s). Feature
    /// `redis`.
    #[error(
        "rate {rate}/s cannot be kept in Redis: the emission interval is counted in whole microseconds and the nearest rate is {nearest}/s (more than 1 % off); use at most 20000/s, or a rate whose interval is a whole number of microseconds (at most 1000000/s)"
    )]
    RateNotRepresentable {
        /// The rate asked for, per second.
        rate: f64,
        /// The nearest rate a whole-µs interval gives.
        nearest: f64,
    },
    /// The Redis rate limit's default circuit breaker could not be built. Feature `redis`.
    #[error("circuit breaker: {0}")]
    Breaker(#[from] perfstack_resilience::ConfigError),
}
