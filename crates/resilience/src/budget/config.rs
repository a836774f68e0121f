use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{check_nonzero_duration, ConfigError};

/// Retry budget settings.
///
/// | field | default |
/// |---|---|
/// | `ratio` | `0.1`: retries (and hedges) may add 10 % to the requests of the window |
/// | `min_per_second` | `10`: retries always allowed at this rate, so low traffic can retry |
/// | `window` | 10 s |
/// | `slots` | 10 |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// Retries allowed per original request, in `[0, 1000]`.
    pub ratio: f64,
    /// Retries per second allowed regardless of traffic.
    pub min_per_second: u32,
    /// How long a deposit counts.
    pub window: Duration,
    /// Slots of the sliding window.
    pub slots: u32,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self { ratio: 0.1, min_per_second: 10, window: Duration::from_secs(10), slots: 10 }
    }
}

impl BudgetConfig {
    /// Checks every setting.
    ///
    /// # Errors
    ///
    /// The first setting that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.ratio.is_finite() || !(0.0..=1000.0).contains(&self.ratio) {
            return Err(ConfigError::OutOfRange { name: "ratio", value: self.ratio, expected: "0 to 1000, finite" });
        }
        check_nonzero_duration("window", self.window)?;
        if self.slots == 0 {
            return Err(ConfigError::Zero { name: "slots" });
        }
        if self.window / self.slots < Duration::from_millis(1) {
            return Err(ConfigError::Inconsistent("window / slots must be at least 1 ms"));
        }
        Ok(())
    }
}
