//! Serde configuration of a retry policy and of its backoff schedule.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backoff::{Backoff, Constant, DecorrelatedJitter, Exponential, Fibonacci};
use crate::error::{check_nonzero_duration, ConfigError};

/// A backoff schedule in configuration form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum BackoffConfig {
    /// [`Exponential`] with full jitter.
    Exponential {
        /// First ceiling.
        base: Duration,
        /// Largest delay.
        max: Duration,
    },
    /// [`DecorrelatedJitter`].
    Decorrelated {
        /// Smallest delay.
        base: Duration,
        /// Largest delay.
        max: Duration,
    },
    /// [`Constant`].
    Constant {
        /// The delay.
        delay: Duration,
    },
    /// [`Fibonacci`].
    Fibonacci {
        /// First delay.
        base: Duration,
        /// Largest delay.
        max: Duration,
    },
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self::Exponential { base: Duration::from_millis(100), max: Duration::from_secs(10) }
    }
}

impl BackoffConfig {
    /// The schedule.
    #[must_use]
    pub fn build(&self) -> Arc<dyn Backoff> {
        match *self {
            Self::Exponential { base, max } => Arc::new(Exponential::new(base, max)),
            Self::Decorrelated { base, max } => Arc::new(DecorrelatedJitter::new(base, max)),
            Self::Constant { delay } => Arc::new(Constant::new(delay)),
            Self::Fibonacci { base, max } => Arc::new(Fibonacci::new(base, max)),
        }
    }
}

/// Retry settings.
///
/// | field | default |
/// |---|---|
/// | `max_attempts` | 3 (the first try plus two retries) |
/// | `max_elapsed` | `None` |
/// | `backoff` | exponential, full jitter, 100 ms to 10 s |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts in total, at least 1.
    pub max_attempts: u32,
    /// Give up when the next retry would start after this much time since the first try.
    pub max_elapsed: Option<Duration>,
    /// The delay schedule.
    pub backoff: BackoffConfig,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self { max_attempts: 3, max_elapsed: None, backoff: BackoffConfig::default() }
    }
}

impl RetryConfig {
    /// Checks every setting.
    ///
    /// # Errors
    ///
    /// The first setting that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_attempts == 0 {
            return Err(ConfigError::Zero { name: "max_attempts" });
        }
        if let Some(d) = self.max_elapsed {
            check_nonzero_duration("max_elapsed", d)?;
        }
        match self.backoff {
            BackoffConfig::Exponential { base, max }
            | BackoffConfig::Decorrelated { base, max }
            | BackoffConfig::Fibonacci { base, max } => {
                if max < base {
                    return Err(ConfigError::Inconsistent("backoff max is below its base"));
                }
            }
            BackoffConfig::Constant { .. } => {}
        }
        Ok(())
    }
}
