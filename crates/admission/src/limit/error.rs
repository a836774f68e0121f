/// A limit configuration that cannot work, refused when the limit is built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitConfigError {
    /// A bound that must be at least 1 is 0.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// `min_limit > max_limit`.
    #[error("min_limit {min} is greater than max_limit {max}")]
    Inverted {
        /// The minimum.
        min: usize,
        /// The maximum.
        max: usize,
    },
    /// The initial limit is outside `[min, max]`.
    #[error("initial limit {initial} is outside [{min}, {max}]")]
    InitialOutOfRange {
        /// The initial limit.
        initial: usize,
        /// The minimum.
        min: usize,
        /// The maximum.
        max: usize,
    },
    /// A ratio or factor is NaN, infinite or outside its range.
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
}
