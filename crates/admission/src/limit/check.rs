//! The settings checks every limit algorithm shares.

use crate::ConfigError;

/// Bounds of at least 1, not inverted, with the initial limit inside them.
pub(super) fn check_bounds(initial: usize, min: usize, max: usize) -> Result<(), ConfigError> {
    if min == 0 {
        return Err(ConfigError::Zero("min_limit"));
    }
    if min > max {
        return Err(ConfigError::Inverted { min, max });
    }
    if initial < min || initial > max {
        return Err(ConfigError::InitialOutOfRange { initial, min, max });
    }
    Ok(())
}

/// A finite factor in `[lo, hi]`.
pub(super) fn check_ratio(name: &'static str, v: f64, lo: f64, hi: f64) -> Result<(), ConfigError> {
    if !v.is_finite() || v < lo || v > hi {
        return Err(ConfigError::OutOfRange { name, value: v, lo, hi });
    }
    Ok(())
}
