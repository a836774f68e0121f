//! The breaker's refusal.

use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;

/// Refused by an open (or forced-open, or saturated half-open) breaker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker {name} is open")]
pub struct CircuitOpen {
    /// The breaker's name.
    pub name: Arc<str>,
    /// Time left until the breaker lets a probe through, when known.
    pub retry_after: Option<Duration>,
}

impl<E> From<CircuitOpen> for Error<E> {
    fn from(e: CircuitOpen) -> Self {
        Error::CircuitOpen { name: e.name, retry_after: e.retry_after }
    }
}
