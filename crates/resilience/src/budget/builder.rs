//! The retry budget builder.

use std::sync::Arc;

use super::config::BudgetConfig;
use super::handle::RetryBudget;
use crate::clock::{default_clock, Clock, SharedClock};
use crate::error::ConfigError;

/// Builds a [`RetryBudget`].
#[must_use]
#[derive(Debug, Default)]
pub struct BudgetBuilder {
    config: BudgetConfig,
    clock: Option<SharedClock>,
    name: Option<Arc<str>>,
}

impl BudgetBuilder {
    /// The name in metric labels (`name="..."`); default `"default"`.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Retries per original request (`0.1` = 10 %).
    pub fn ratio(mut self, ratio: f64) -> Self {
        self.config.ratio = ratio;
        self
    }

    /// Retries per second allowed regardless of traffic.
    pub fn min_per_second(mut self, n: u32) -> Self {
        self.config.min_per_second = n;
        self
    }

    /// Window length and slot count (1 to [`BudgetConfig::MAX_SLOTS`](crate::BudgetConfig::MAX_SLOTS),
    /// each slot at least 1 ms long).
    pub fn window(mut self, window: std::time::Duration, slots: u32) -> Self {
        self.config.window = window;
        self.config.slots = slots;
        self
    }

    /// The clock (default tokio's).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Checks the settings and builds the budget.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid setting.
    pub fn build(self) -> Result<RetryBudget, ConfigError> {
        let name = self.name.unwrap_or_else(|| Arc::from("default"));
        RetryBudget::assemble(&self.config, self.clock.unwrap_or_else(default_clock), name)
    }
}
