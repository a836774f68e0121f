//! The breaker builder.

use std::sync::Arc;
use std::time::Duration;

use super::config::{BreakerConfig, WindowConfig};
use super::events::{Listener, StateChange};
use super::handle::CircuitBreaker;
use crate::backoff::Backoff;
use crate::clock::{default_clock, Clock, SharedClock};
use crate::error::ConfigError;

/// Builds a [`CircuitBreaker`]; settings are checked by [`build`](Self::build).
#[must_use]
pub struct BreakerBuilder {
    config: BreakerConfig,
    clock: Option<SharedClock>,
    listeners: Vec<Listener>,
    open_schedule: Option<Arc<dyn Backoff>>,
}

impl std::fmt::Debug for BreakerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreakerBuilder").field("config", &self.config).finish_non_exhaustive()
    }
}

impl BreakerBuilder {
    pub(crate) fn new(name: impl Into<String>) -> Self {
        Self::from_config(BreakerConfig { name: name.into(), ..BreakerConfig::default() })
    }

    /// Starts from a configuration.
    pub fn from_config(config: BreakerConfig) -> Self {
        Self { config, clock: None, listeners: Vec::new(), open_schedule: None }
    }

    /// Failure-rate threshold in percent, `(0, 100]`.
    pub fn failure_rate_threshold(mut self, percent: f64) -> Self {
        self.config.failure_rate_threshold = percent;
        self
    }

    /// Track slow calls: a call lasting `duration` or longer is slow; open when the slow-call
    /// rate reaches `percent`.
    pub fn slow_calls(mut self, duration: Duration, percent: f64) -> Self {
        self.config.slow_call_duration = Some(duration);
        self.config.slow_call_rate_threshold = percent;
        self
    }

    /// Count-based window of the last `size` calls, 1 to
    /// [`WindowConfig::MAX_COUNT_SIZE`] (100 000); `build()` refuses a larger one with
    /// [`ConfigError::TooLarge`].
    pub fn count_window(mut self, size: u32) -> Self {
        self.config.window = WindowConfig::Count { size };
        self
    }

    /// Time-based window of `length`, in `buckets` buckets (1 to
    /// [`WindowConfig::MAX_BUCKETS`], 4 096; `build()` refuses more with
    /// [`ConfigError::TooLarge`]).
    ///
    /// A bucket counts its first 65 535 calls exactly; past that it keeps a uniform sample
    /// (each call counted with the same probability, weighted back up in the sums), so the
    /// failure and slow-call rates stay right at any call rate (up to about 8.4 million calls
    /// per bucket; beyond, the bucket favours its most recent calls).
    pub fn time_window(mut self, length: Duration, buckets: u32) -> Self {
        self.config.window = WindowConfig::Time { length, buckets };
        self
    }

    /// Calls needed in the window before it may trip.
    pub fn minimum_calls(mut self, n: u32) -> Self {
        self.config.minimum_calls = n;
        self
    }

    /// A fixed open duration.
    pub fn wait_in_open(mut self, d: Duration) -> Self {
        self.config.wait_in_open = d;
        self
    }

    /// An open duration that doubles on each consecutive re-open, from `wait_in_open` up to `max`.
    pub fn exponential_wait_in_open(mut self, max: Duration) -> Self {
        self.config.max_wait_in_open = Some(max);
        self
    }

    /// Any [`Backoff`] schedule for the open duration (`attempt` = consecutive opens).
    pub fn open_backoff(mut self, schedule: impl Backoff + 'static) -> Self {
        self.open_schedule = Some(Arc::new(schedule));
        self
    }

    /// Exactly this many probes in half-open (1 to 255).
    pub fn half_open_probes(mut self, n: u32) -> Self {
        self.config.half_open_probes = n;
        self
    }

    /// The clock (default: tokio's clock, which paused-time tests control).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// A callback for every state change (called on the thread that made the change).
    pub fn on_state_change(mut self, f: impl Fn(&StateChange) + Send + Sync + 'static) -> Self {
        self.listeners.push(Arc::new(f));
        self
    }

    /// Checks the settings and builds the breaker.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid setting.
    pub fn build(self) -> Result<CircuitBreaker, ConfigError> {
        let clock = self.clock.unwrap_or_else(default_clock);
        CircuitBreaker::assemble(&self.config, clock, self.listeners, self.open_schedule)
    }
}
