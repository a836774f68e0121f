//! The hedge builder.

use std::sync::Arc;

use super::config::HedgeDelay;
use super::handle::Hedge;
use crate::budget::RetryBudget;
use crate::error::ConfigError;

/// Builds a [`Hedge`].
#[must_use]
#[derive(Debug)]
pub struct HedgeBuilder {
    delay: HedgeDelay,
    budget: Option<RetryBudget>,
    name: Option<Arc<str>>,
}

impl HedgeBuilder {
    pub(super) fn new(delay: HedgeDelay) -> Self {
        Self { delay, budget: None, name: None }
    }

    /// The name in metric labels (`name="..."`); default `"default"`.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Backups withdraw from this budget (shared with retries).
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Checks the settings and builds the policy.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a zero delay, or a quantile outside `(0, 1)`, or `min > max`.
    pub fn build(self) -> Result<Hedge, ConfigError> {
        self.delay.validate()?;
        Ok(Hedge::assemble(self.name.unwrap_or_else(|| Arc::from("default")), self.delay, self.budget))
    }
}
