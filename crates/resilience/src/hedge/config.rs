//! Serde configuration of a hedge: when the backup call starts.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{check_nonzero_duration, ConfigError};

/// When the backup call starts (also the serde configuration of a [`Hedge`](crate::Hedge)).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum HedgeDelay {
    /// After a fixed delay.
    Fixed {
        /// The delay.
        delay: Duration,
    },
    /// After the observed latency quantile (`0.95` = p95) of recent primary calls, kept within
    /// `[min, max]`; `max` is used until there are samples.
    Quantile {
        /// Quantile in `(0, 1)`.
        quantile: f64,
        /// Lower bound.
        min: Duration,
        /// Upper bound, and the delay before any sample.
        max: Duration,
    },
}

impl HedgeDelay {
    /// Checks the delay; [`HedgeBuilder::build`](crate::HedgeBuilder::build) calls this.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a zero delay, a quantile outside `(0, 1)`, a zero `max` or
    /// `min > max`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match *self {
            HedgeDelay::Fixed { delay } => {
                check_nonzero_duration("hedge delay", delay)?;
            }
            HedgeDelay::Quantile { quantile, min, max } => {
                if !(quantile > 0.0 && quantile < 1.0) {
                    return Err(ConfigError::OutOfRange {
                        name: "quantile",
                        value: quantile,
                        expected: "strictly between 0 and 1",
                    });
                }
                check_nonzero_duration("hedge max delay", max)?;
                if min > max {
                    return Err(ConfigError::Inconsistent("hedge min delay is above max"));
                }
            }
        }
        Ok(())
    }
}
