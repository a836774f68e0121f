//! Serde configuration of a retry budget, with documented defaults and validation.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{check_at_most, check_nonzero_duration, ConfigError};

/// The smallest non-zero ratio: a withdrawal then costs 1,000 deposits, which keeps the
/// fixed-point balance exact and far from overflow.
const MIN_RATIO: f64 = 1e-3;
/// The most retries `min_per_second` may reserve over one window.
const MAX_RESERVED_RETRIES: f64 = 1e9;

/// Retry budget settings.
///
/// | field | default |
/// |---|---|
/// | `ratio` | `0.1`: retries (and hedges) may add 10 % to the requests of the window |
/// | `min_per_second` | `10`: retries always allowed at this rate, so low traffic can retry |
/// | `window` | 10 s |
/// | `slots` | 10 (at most [`BudgetConfig::MAX_SLOTS`]) |
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
    /// The most slots a window may have: 4 096 (8 bytes each). A rotation sweeps the slots it
    /// passes, and more slots only make the window slide more smoothly.
    pub const MAX_SLOTS: u32 = 4_096;

    /// Checks every setting.
    ///
    /// # Errors
    ///
    /// The first setting that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.ratio.is_finite() || !(0.0..=1000.0).contains(&self.ratio) {
            return Err(ConfigError::OutOfRange { name: "ratio", value: self.ratio, expected: "0 to 1000, finite" });
        }
        // Below 1e-3 a withdrawal would cost more than the balance can hold exactly.
        if self.ratio != 0.0 && self.ratio < MIN_RATIO {
            return Err(ConfigError::OutOfRange { name: "ratio", value: self.ratio, expected: "0, or 0.001 to 1000" });
        }
        // The reserve (min_per_second over the window, in withdrawals) must fit the balance.
        if f64::from(self.min_per_second) * self.window.as_secs_f64() > MAX_RESERVED_RETRIES {
            return Err(ConfigError::OutOfRange {
                name: "min_per_second × window",
                value: f64::from(self.min_per_second) * self.window.as_secs_f64(),
                expected: "at most 10⁹ retries reserved per window",
            });
        }
        check_nonzero_duration("window", self.window)?;
        if self.slots == 0 {
            return Err(ConfigError::Zero { name: "slots" });
        }
        check_at_most("slots", self.slots, Self::MAX_SLOTS)?;
        if self.window / self.slots < Duration::from_millis(1) {
            return Err(ConfigError::Inconsistent("window / slots must be at least 1 ms"));
        }
        Ok(())
    }
}
