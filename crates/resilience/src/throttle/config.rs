//! Serde configuration of an adaptive throttle, with documented defaults and validation.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::breaker::window::TimeWindow;
use crate::error::{check_at_most, check_nonzero_duration, ConfigError};

/// Serde settings of an [`AdaptiveThrottle`](crate::AdaptiveThrottle).
///
/// | field | default |
/// |---|---|
/// | `k` | 2.0 |
/// | `window` | 120 s |
/// | `buckets` | 60 (at most [`ThrottleConfig::MAX_BUCKETS`]) |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleConfig {
    /// The multiplier `K` (at least 1).
    pub k: f64,
    /// Window length.
    pub window: Duration,
    /// Buckets in the window.
    pub buckets: u32,
}

impl ThrottleConfig {
    /// The most buckets the window may have: 4 096, as for the breaker's time window
    /// ([`WindowConfig::MAX_BUCKETS`](crate::WindowConfig::MAX_BUCKETS)).
    pub const MAX_BUCKETS: u32 = TimeWindow::MAX_BUCKETS;

    /// Checks every setting; the builder calls this.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for `K` below 1 or not finite, a zero window, zero buckets or more than
    /// [`ThrottleConfig::MAX_BUCKETS`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.k.is_finite() || self.k < 1.0 {
            return Err(ConfigError::OutOfRange { name: "k", value: self.k, expected: "finite and at least 1" });
        }
        check_nonzero_duration("window", self.window)?;
        if self.buckets == 0 {
            return Err(ConfigError::Zero { name: "buckets" });
        }
        check_at_most("buckets", self.buckets, Self::MAX_BUCKETS)
    }
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self { k: 2.0, window: Duration::from_secs(120), buckets: 60 }
    }
}
