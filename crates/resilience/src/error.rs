//! Errors: invalid configuration, and what a guarded call can return.

use std::time::Duration;

/// A setting that cannot work, refused when a policy is built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A percentage outside `(0, 100]`, or NaN.
    #[error("{name} must be a percentage in (0, 100], got {value}")]
    Percentage {
        /// The setting.
        name: &'static str,
        /// The refused value.
        value: f64,
    },
    /// A ratio or factor that is negative, NaN or infinite (or out of its documented range).
    #[error("{name} is out of range: {value} ({expected})")]
    OutOfRange {
        /// The setting.
        name: &'static str,
        /// The refused value.
        value: f64,
        /// What is allowed.
        expected: &'static str,
    },
    /// A count that must be at least one (a window size, a permit count).
    #[error("{name} must be at least 1")]
    Zero {
        /// The setting.
        name: &'static str,
    },
    /// A count above its documented limit (a window size, a bucket or slot count, a probe
    /// count): the limits keep what `build()` allocates, and the work per call, bounded.
    #[error("{name} must be at most {max}, got {value}")]
    TooLarge {
        /// The setting.
        name: &'static str,
        /// The refused value.
        value: u64,
        /// The limit.
        max: u64,
    },
    /// A duration that must be longer than zero.
    #[error("{name} must be longer than zero")]
    ZeroDuration {
        /// The setting.
        name: &'static str,
    },
    /// The part needs a tokio runtime and was built outside one.
    #[error("must be created inside a tokio runtime")]
    NoRuntime,
    /// Two settings that contradict each other.
    #[error("{0}")]
    Inconsistent(&'static str),
}

pub(crate) fn check_percentage(name: &'static str, value: f64) -> Result<f64, ConfigError> {
    if value.is_nan() || value <= 0.0 || value > 100.0 {
        Err(ConfigError::Percentage { name, value })
    } else {
        Ok(value)
    }
}

pub(crate) fn check_at_most(name: &'static str, value: u32, max: u32) -> Result<(), ConfigError> {
    if value > max {
        Err(ConfigError::TooLarge { name, value: u64::from(value), max: u64::from(max) })
    } else {
        Ok(())
    }
}

pub(crate) fn check_nonzero_duration(name: &'static str, value: Duration) -> Result<Duration, ConfigError> {
    if value.is_zero() {
        Err(ConfigError::ZeroDuration { name })
    } else {
        Ok(value)
    }
}

/// Why a guarded call did not return the downstream's answer.
///
/// `E` is the downstream's own error; the other variants are produced by the policies.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error<E> {
    /// The downstream call failed (after any retries).
    #[error("downstream call failed: {0}")]
    Inner(E),
    /// The circuit breaker is open (or forced open) and refused the call.
    #[error("circuit breaker {name} is open")]
    CircuitOpen {
        /// The breaker's name.
        name: std::sync::Arc<str>,
        /// How long until the breaker lets a probe through, when known.
        retry_after: Option<Duration>,
    },
    /// The call did not finish within its timeout.
    #[error("call timed out after {0:?}")]
    Timeout(Duration),
    /// The bulkhead was full and its wait queue full or its maximum wait elapsed.
    #[error("bulkhead {name} is full")]
    BulkheadFull {
        /// The bulkhead's name.
        name: std::sync::Arc<str>,
    },
    /// The client-side adaptive throttle rejected the call locally.
    #[error("request throttled locally (adaptive throttling)")]
    Throttled,
}

impl<E> Error<E> {
    /// The downstream error, if this is one.
    pub fn into_inner(self) -> Option<E> {
        match self {
            Self::Inner(e) => Some(e),
            _ => None,
        }
    }

    /// True when a policy refused the call before it reached the downstream.
    #[must_use]
    pub fn is_rejection(&self) -> bool {
        matches!(self, Self::CircuitOpen { .. } | Self::BulkheadFull { .. } | Self::Throttled)
    }

    /// Maps the downstream error.
    pub fn map_inner<F, E2>(self, f: F) -> Error<E2>
    where
        F: FnOnce(E) -> E2,
    {
        match self {
            Self::Inner(e) => Error::Inner(f(e)),
            Self::CircuitOpen { name, retry_after } => Error::CircuitOpen { name, retry_after },
            Self::Timeout(d) => Error::Timeout(d),
            Self::BulkheadFull { name } => Error::BulkheadFull { name },
            Self::Throttled => Error::Throttled,
        }
    }
}
