//! The bulkhead builder.

use std::time::Duration;

use super::config::BulkheadConfig;
use super::handle::Bulkhead;
use crate::error::ConfigError;

/// Builds a [`Bulkhead`].
#[must_use]
#[derive(Debug)]
pub struct BulkheadBuilder {
    name: String,
    config: BulkheadConfig,
}

impl BulkheadBuilder {
    pub(super) fn new(name: String) -> Self {
        Self { name, config: BulkheadConfig::default() }
    }

    /// Calls allowed at once.
    pub fn max_concurrent(mut self, n: u32) -> Self {
        self.config.max_concurrent = n;
        self
    }

    /// Calls allowed to wait for a slot.
    pub fn max_queue(mut self, n: u32) -> Self {
        self.config.max_queue = n;
        self
    }

    /// Longest wait in the queue.
    pub fn max_wait(mut self, d: Duration) -> Self {
        self.config.max_wait = Some(d);
        self
    }

    /// Checks the settings and builds the bulkhead.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid setting.
    pub fn build(self) -> Result<Bulkhead, ConfigError> {
        Bulkhead::from_config(self.name, &self.config)
    }
}
