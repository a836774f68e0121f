//! Serde configuration of a bulkhead, with documented defaults and validation.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{check_nonzero_duration, ConfigError};

/// Bulkhead settings.
///
/// | field | default |
/// |---|---|
/// | `max_concurrent` | 64 |
/// | `max_queue` | 0 (reject at once when full) |
/// | `max_wait` | `None` (a queued call waits until a slot frees) |
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BulkheadConfig {
    /// Calls allowed at once.
    pub max_concurrent: u32,
    /// Calls allowed to wait for a slot.
    pub max_queue: u32,
    /// Longest wait in the queue.
    pub max_wait: Option<Duration>,
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        Self { max_concurrent: 64, max_queue: 0, max_wait: None }
    }
}

impl BulkheadConfig {
    /// Checks every setting.
    ///
    /// # Errors
    ///
    /// The first setting that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_concurrent == 0 {
            return Err(ConfigError::Zero { name: "max_concurrent" });
        }
        if let Some(d) = self.max_wait {
            check_nonzero_duration("max_wait", d)?;
        }
        Ok(())
    }
}
