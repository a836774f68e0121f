//! The adaptive throttle builder.

use std::sync::Arc;
use std::time::Duration;

use super::config::ThrottleConfig;
use super::handle::AdaptiveThrottle;
use crate::clock::{default_clock, Clock, SharedClock};
use crate::error::ConfigError;

/// Builds an [`AdaptiveThrottle`]. Defaults: `K = 2`, a 2-minute window in 60 buckets.
#[must_use]
#[derive(Debug, Default)]
pub struct ThrottleBuilder {
    config: ThrottleConfig,
    clock: Option<SharedClock>,
    name: Option<Arc<str>>,
}

impl ThrottleBuilder {
    /// The name in metric labels (`name="..."`); default `"default"`.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The multiplier `K` (≥ 1; 2 is the SRE book's value, lower is more aggressive).
    pub fn k(mut self, k: f64) -> Self {
        self.config.k = k;
        self
    }

    /// The window length and bucket count (1 to [`ThrottleConfig::MAX_BUCKETS`]).
    pub fn window(mut self, length: Duration, buckets: u32) -> Self {
        self.config.window = length;
        self.config.buckets = buckets;
        self
    }

    /// The clock.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Checks the settings and builds the throttle.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for `K` below 1 or not finite, a zero window, zero buckets or more than
    /// [`ThrottleConfig::MAX_BUCKETS`] (see [`ThrottleConfig::validate`]).
    pub fn build(self) -> Result<AdaptiveThrottle, ConfigError> {
        self.config.validate()?;
        let name = self.name.unwrap_or_else(|| Arc::from("default"));
        Ok(AdaptiveThrottle::assemble(name, &self.config, self.clock.unwrap_or_else(default_clock)))
    }
}
