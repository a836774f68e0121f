//! The retry builder.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use super::config::RetryConfig;
use super::handle::{Retry, RetryInner};
use crate::backoff::Backoff;
use crate::budget::RetryBudget;
use crate::counter::LazyCounter;
use crate::error::ConfigError;

/// Builds a [`Retry`].
#[must_use]
#[derive(Debug)]
pub struct RetryBuilder {
    config: RetryConfig,
    name: String,
    backoff: Option<Arc<dyn Backoff>>,
    budget: Option<RetryBudget>,
}

impl RetryBuilder {
    pub(crate) fn new(name: impl Into<String>, config: RetryConfig) -> Self {
        Self { config, name: name.into(), backoff: None, budget: None }
    }

    /// Attempts in total (first try included).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.config.max_attempts = n;
        self
    }

    /// Stop retrying once this much time has passed since the first try.
    pub fn max_elapsed(mut self, d: Duration) -> Self {
        self.config.max_elapsed = Some(d);
        self
    }

    /// The delay schedule.
    pub fn backoff(mut self, schedule: impl Backoff + 'static) -> Self {
        self.backoff = Some(Arc::new(schedule));
        self
    }

    /// A retry budget, shared with other retry policies and hedges.
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Checks the settings and builds the policy.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid setting.
    pub fn build(self) -> Result<Retry, ConfigError> {
        self.config.validate()?;
        let backoff = self.backoff.unwrap_or_else(|| self.config.backoff.build());
        let name: Arc<str> = self.name.into();
        Ok(Retry {
            inner: Arc::new(RetryInner {
                attempts_counter: LazyCounter::new("perfstack_resilience_retry_attempts_total", name.clone()),
                name,
                max_attempts: self.config.max_attempts,
                max_elapsed: self.config.max_elapsed,
                backoff,
                budget: self.budget,
                retries: AtomicU64::new(0),
                budget_refusals: AtomicU64::new(0),
                calls: AtomicU64::new(0),
            }),
        })
    }
}
