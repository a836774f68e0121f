//! Serde configuration of a circuit breaker, with documented defaults and validation.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::state::MAX_PROBES;
use super::window::{CountWindow, TimeWindow};
use crate::error::{check_at_most, check_nonzero_duration, check_percentage, ConfigError};

/// Which sliding window the breaker aggregates outcomes over.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum WindowConfig {
    /// The last `size` calls (default, `size = 100`).
    Count {
        /// Number of calls in the window.
        size: u32,
    },
    /// The calls of the last `length`, in `buckets` equal buckets.
    Time {
        /// Window length.
        length: Duration,
        /// Number of buckets (the window slides by `length / buckets`).
        buckets: u32,
    },
}

impl Default for WindowConfig {
    fn default() -> Self {
        Self::Count { size: 100 }
    }
}

impl WindowConfig {
    /// The largest count window: 100 000 calls (one byte each, 1 000 times the default).
    /// Emptying the window on every close touches each slot, and the rates of a window this
    /// large move by 0.001 % per call; for more calls use a time window.
    pub const MAX_COUNT_SIZE: u32 = CountWindow::MAX_SIZE;

    /// The most buckets a time window may have: 4 096 (8 bytes each). Each new bucket sweeps
    /// the others, and more buckets than this make the window slide more smoothly without
    /// making the rates more accurate (a bucket of a 60 s window is then 15 ms).
    pub const MAX_BUCKETS: u32 = TimeWindow::MAX_BUCKETS;
}

/// Circuit breaker settings (Resilience4j's model).
///
/// | field | default |
/// |---|---|
/// | `name` | `"default"` |
/// | `failure_rate_threshold` | `50.0` (%) |
/// | `slow_call_rate_threshold` | `100.0` (%) |
/// | `slow_call_duration` | `None` (slow calls not tracked) |
/// | `window` | count-based, 100 calls (at most [`WindowConfig::MAX_COUNT_SIZE`] calls, or [`WindowConfig::MAX_BUCKETS`] buckets) |
/// | `minimum_calls` | `20` |
/// | `wait_in_open` | 30 s |
/// | `max_wait_in_open` | `None` (fixed open duration); when set, the open duration doubles with each consecutive re-open up to this cap |
/// | `half_open_probes` | `5` (at most 255) |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Name used in metrics labels, events and errors.
    pub name: String,
    /// Open when the failure rate in the window is at least this percentage.
    pub failure_rate_threshold: f64,
    /// Open when the slow-call rate is at least this percentage.
    pub slow_call_rate_threshold: f64,
    /// A call lasting at least this long is slow; `None` disables slow-call tracking.
    pub slow_call_duration: Option<Duration>,
    /// The sliding window.
    pub window: WindowConfig,
    /// Calls needed in the window before the rates are judged.
    pub minimum_calls: u32,
    /// How long the breaker stays open before letting probes through.
    pub wait_in_open: Duration,
    /// Cap for an exponentially growing open duration; `None` keeps it fixed.
    pub max_wait_in_open: Option<Duration>,
    /// Exactly this many probe calls are admitted in half-open.
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            name: "default".into(),
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration: None,
            window: WindowConfig::default(),
            minimum_calls: 20,
            wait_in_open: Duration::from_secs(30),
            max_wait_in_open: None,
            half_open_probes: 5,
        }
    }
}

impl BreakerConfig {
    /// Checks every setting; the builder calls this.
    ///
    /// # Errors
    ///
    /// The first setting that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_percentage("failure_rate_threshold", self.failure_rate_threshold)?;
        check_percentage("slow_call_rate_threshold", self.slow_call_rate_threshold)?;
        if let Some(d) = self.slow_call_duration {
            check_nonzero_duration("slow_call_duration", d)?;
        }
        match self.window {
            WindowConfig::Count { size: 0 } => return Err(ConfigError::Zero { name: "window.size" }),
            WindowConfig::Count { size } => check_at_most("window.size", size, WindowConfig::MAX_COUNT_SIZE)?,
            WindowConfig::Time { length, buckets } => {
                check_nonzero_duration("window.length", length)?;
                if buckets == 0 {
                    return Err(ConfigError::Zero { name: "window.buckets" });
                }
                check_at_most("window.buckets", buckets, WindowConfig::MAX_BUCKETS)?;
                if length / buckets < Duration::from_nanos(1) {
                    return Err(ConfigError::Inconsistent("window.length / window.buckets is below one nanosecond"));
                }
            }
        }
        if self.minimum_calls == 0 {
            return Err(ConfigError::Zero { name: "minimum_calls" });
        }
        if let WindowConfig::Count { size } = self.window {
            if self.minimum_calls > size {
                return Err(ConfigError::Inconsistent(
                    "minimum_calls is larger than the count window: the breaker could never trip",
                ));
            }
        }
        check_nonzero_duration("wait_in_open", self.wait_in_open)?;
        if let Some(max) = self.max_wait_in_open {
            if max < self.wait_in_open {
                return Err(ConfigError::Inconsistent("max_wait_in_open is shorter than wait_in_open"));
            }
        }
        if self.half_open_probes == 0 {
            return Err(ConfigError::Zero { name: "half_open_probes" });
        }
        check_at_most("half_open_probes", self.half_open_probes, MAX_PROBES)
    }
}
