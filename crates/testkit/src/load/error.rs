//! [`LoadError`]: the settings a load run refuses.

/// A load run's settings were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The rate is not a finite number above zero.
    #[error("rate must be a finite number of requests per second above 0, got {0}")]
    InvalidRate(f64),
    /// A bound is zero: the run would do nothing or never end.
    #[error("{0} must be above 0")]
    ZeroBound(&'static str),
}
