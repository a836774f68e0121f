//! What every overload signal shares: an `Arc` of a signal is a signal, and thresholds are
//! checked the same way.

use std::sync::Arc;

use super::OverloadSignal;
use crate::ConfigError;

impl<S: OverloadSignal + ?Sized> OverloadSignal for Arc<S> {
    fn pressure(&self) -> f64 {
        (**self).pressure()
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
}

/// A threshold that must be a finite number above zero.
pub(super) fn check_threshold(name: &'static str, value: f64) -> Result<f64, ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(ConfigError::Threshold { name, value })
    }
}
