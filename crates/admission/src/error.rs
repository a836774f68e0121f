use crate::limit::LimitConfigError;
use crate::rate::RateConfigError;
use crate::Priority;

/// A controller configuration that cannot work, refused by `build()`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The limit algorithm's settings.
    #[error(transparent)]
    Limit(#[from] LimitConfigError),
    /// A rate limit's settings.
    #[error(transparent)]
    Rate(#[from] RateConfigError),
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
    /// Queue settings: capacity above 10⁶, or a zero wait with a non-zero capacity.
    #[error("queue: {0}")]
    Queue(&'static str),
    /// Window settings: zero lengths, min above max, max above an hour, zero samples, a
    /// `sample_every` outside 1..=65,536.
    #[error("control window: {0}")]
    Window(&'static str),
}
