//! [`Aimd`]: additive increase, multiplicative decrease.

use std::time::Duration;

use super::check::{check_bounds, check_ratio};
use super::min_filter::{MinRttProbe, Probe};
use super::restore::Restore;
use super::{Limit, Sample};
use crate::ConfigError;

/// Settings of [`Aimd`]. Defaults: initial 20, bounds `[1, 1000]`, backoff 0.9, timeout 1 s,
/// RTT tolerance 1.5 against the no-load RTT, probe every 100 windows.
#[derive(Debug, Clone, PartialEq)]
pub struct AimdConfig {
    /// Starting limit.
    pub initial: usize,
    /// Lowest limit.
    pub min_limit: usize,
    /// Highest limit.
    pub max_limit: usize,
    /// Multiplicative decrease factor, in (0.5, 1).
    pub backoff_ratio: f64,
    /// A window whose mean RTT exceeds this counts as a drop.
    pub timeout: Duration,
    /// When set, a window whose mean RTT exceeds `tolerance ×` the no-load RTT also counts as a
    /// drop (the latency-aware variant; `None` gives Netflix's plain `AIMDLimit`, which queues
    /// up to the timeout). The no-load RTT is the recent average of queue-free window means
    /// (see [`VegasConfig::probe_interval`](super::VegasConfig::probe_interval)).
    pub rtt_tolerance: Option<f64>,
    /// Minimum-RTT probing period, in windows (see [`VegasConfig::probe_interval`](super::VegasConfig::probe_interval)).
    pub probe_interval: u32,
}

impl Default for AimdConfig {
    fn default() -> Self {
        Self {
            initial: 20,
            min_limit: 1,
            max_limit: 1000,
            backoff_ratio: 0.9,
            timeout: Duration::from_secs(1),
            rtt_tolerance: Some(1.5),
            probe_interval: 100,
        }
    }
}

/// Additive increase, multiplicative decrease: +1 per window while the limit is used, ×0.9 on a
/// drop (a timeout, or RTT above the tolerance).
///
/// # Examples
///
/// ```
/// use perfstack_admission::limit::{Aimd, AimdConfig, Limit, Sample};
/// use std::time::Duration;
/// let mut l = Aimd::new(AimdConfig { initial: 10, rtt_tolerance: None, ..AimdConfig::default() })?;
/// let ms = Duration::from_millis;
/// assert_eq!(l.update(&Sample::new(ms(100), ms(10), 10)), 11);
/// assert_eq!(l.update(&Sample::new(ms(200), ms(10), 11).with_drop()), 9);
/// # Ok::<(), perfstack_admission::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Aimd {
    cfg: AimdConfig,
    limit: f64,
    baseline: MinRttProbe,
    restore: Restore,
}

impl Aimd {
    /// Builds the limit.
    ///
    /// # Errors
    ///
    /// Bounds that are zero or inverted, an initial limit outside them, a backoff ratio
    /// outside (0.5, 1), a tolerance below 1 or NaN, a zero timeout or probe interval.
    pub fn new(cfg: AimdConfig) -> Result<Self, ConfigError> {
        check_bounds(cfg.initial, cfg.min_limit, cfg.max_limit)?;
        check_ratio("backoff_ratio", cfg.backoff_ratio, 0.5, 0.999)?;
        if let Some(t) = cfg.rtt_tolerance {
            check_ratio("rtt_tolerance", t, 1.0, 100.0)?;
        }
        if cfg.timeout.is_zero() {
            return Err(ConfigError::Zero("timeout"));
        }
        if cfg.probe_interval == 0 {
            return Err(ConfigError::Zero("probe_interval"));
        }
        Ok(Self {
            limit: cfg.initial as f64,
            baseline: MinRttProbe::new(cfg.probe_interval),
            restore: Restore::default(),
            cfg,
        })
    }
}

impl Limit for Aimd {
    fn limit(&self) -> usize {
        self.limit as usize
    }

    fn update(&mut self, s: &Sample) -> usize {
        let baseline = if self.cfg.rtt_tolerance.is_some() {
            match self.baseline.on_window(s, s.rtt, self.limit, self.cfg.min_limit as f64) {
                Probe::Normal(b) => b,
                Probe::Start(l) | Probe::End(l) => {
                    self.limit = l;
                    return self.limit();
                }
            }
        } else {
            s.rtt
        };
        let too_slow = self.cfg.rtt_tolerance.is_some_and(|tol| s.rtt.as_secs_f64() > tol * baseline.as_secs_f64());
        let congested = s.dropped || s.rtt > self.cfg.timeout || too_slow;
        if let Some(l) = self.restore.step(self.limit, s, !congested) {
            self.limit = l.clamp(self.cfg.min_limit as f64, self.cfg.max_limit as f64);
            return self.limit();
        }
        let before = self.limit;
        if congested {
            self.limit = (self.limit * self.cfg.backoff_ratio).floor();
        } else if s.max_inflight.saturating_mul(2) >= self.limit as usize {
            self.limit += 1.0;
        }
        self.limit = self.limit.clamp(self.cfg.min_limit as f64, self.cfg.max_limit as f64);
        self.restore.after_update(before, self.limit);
        self.limit()
    }

    fn name(&self) -> &'static str {
        "aimd"
    }
}
