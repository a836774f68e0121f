//! [`Gradient2`]: Netflix's gradient of the long-term RTT over the short-term one.

use std::time::Duration;

use super::check::{check_bounds, check_ratio};
use super::min_filter::{MinRttProbe, Probe};
use super::restore::Restore;
use super::{Limit, Sample};
use crate::ConfigError;

/// Settings of [`Gradient2`]. Defaults: initial 20, bounds `[1, 1000]`, smoothing 0.2,
/// RTT tolerance 1.5, long-term window 100 control windows, queue allowance 4, min-RTT probe
/// every 100 windows, long-term RTT capped at the no-load RTT estimate (ratio 1.0).
#[derive(Debug, Clone, PartialEq)]
pub struct Gradient2Config {
    /// Starting limit.
    pub initial: usize,
    /// Lowest limit.
    pub min_limit: usize,
    /// Highest limit.
    pub max_limit: usize,
    /// Weight of the new limit against the old one, in (0, 1].
    pub smoothing: f64,
    /// How much longer than the long-term RTT the short-term RTT may be before the limit
    /// shrinks, at least 1.
    pub rtt_tolerance: f64,
    /// Length, in windows, of the long-term RTT's exponential average.
    pub long_window: u32,
    /// Requests allowed to queue on top of `limit × gradient`.
    pub queue_size: f64,
    /// Minimum-RTT probing period (see [`VegasConfig::probe_interval`](super::VegasConfig::probe_interval));
    /// after a probe the long-term RTT restarts from the no-load RTT.
    pub probe_interval: u32,
    /// The long-term RTT may not exceed this multiple of the no-load RTT, so a slow
    /// upward drift of the RTT (which Gradient2's moving average follows) cannot grow the queue
    /// without bound; at least 1.
    pub max_long_rtt_ratio: f64,
}

impl Default for Gradient2Config {
    fn default() -> Self {
        Self {
            initial: 20,
            min_limit: 1,
            max_limit: 1000,
            smoothing: 0.2,
            rtt_tolerance: 1.5,
            long_window: 100,
            queue_size: 4.0,
            probe_interval: 100,
            max_long_rtt_ratio: 1.0,
        }
    }
}

/// Netflix's Gradient2: `gradient = clamp(tolerance × long_rtt / short_rtt, 0.5, 1)`, new limit
/// `limit × gradient + queue_size`, smoothed. The long-term RTT is an exponential average that
/// is pulled down fast when it drifts far above the short-term one.
///
/// # Examples
///
/// ```
/// use perfstack_admission::limit::{Gradient2, Gradient2Config, Limit, Sample};
/// use std::time::Duration;
/// let ms = Duration::from_millis;
/// let mut l = Gradient2::new(Gradient2Config::default())?;
/// l.update(&Sample::new(ms(100), ms(10), 20)); // min-RTT probe window at half the limit
/// l.update(&Sample::new(ms(200), ms(10), 10)); // baseline measured, limit restored
/// for w in 3..8 { l.update(&Sample::new(ms(w * 100), ms(10), 20)); }
/// assert!(l.limit() > 20); // no queue: grows by the queue allowance
/// let before = l.limit();
/// assert!(l.update(&Sample::new(ms(900), ms(50), before)) < before); // RTT ×5: shrink
/// # Ok::<(), perfstack_admission::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Gradient2 {
    cfg: Gradient2Config,
    limit: f64,
    long_rtt: f64,
    long_count: u32,
    probe: MinRttProbe,
    restore: Restore,
}

impl Gradient2 {
    /// Builds the limit.
    ///
    /// # Errors
    ///
    /// Bad bounds, smoothing outside (0, 1], tolerance below 1 or NaN, a negative or NaN
    /// queue size, a zero window or probe interval.
    pub fn new(cfg: Gradient2Config) -> Result<Self, ConfigError> {
        check_bounds(cfg.initial, cfg.min_limit, cfg.max_limit)?;
        check_ratio("smoothing", cfg.smoothing, 1e-6, 1.0)?;
        check_ratio("rtt_tolerance", cfg.rtt_tolerance, 1.0, 100.0)?;
        check_ratio("queue_size", cfg.queue_size, 0.0, 1e6)?;
        check_ratio("max_long_rtt_ratio", cfg.max_long_rtt_ratio, 1.0, 100.0)?;
        if cfg.long_window == 0 {
            return Err(ConfigError::Zero("long_window"));
        }
        if cfg.probe_interval == 0 {
            return Err(ConfigError::Zero("probe_interval"));
        }
        Ok(Self {
            limit: cfg.initial as f64,
            long_rtt: 0.0,
            long_count: 0,
            restore: Restore::default(),
            probe: MinRttProbe::new(cfg.probe_interval),
            cfg,
        })
    }

    /// The long-term RTT the short-term one is compared with.
    #[must_use]
    pub fn long_rtt(&self) -> Duration {
        Duration::from_secs_f64(self.long_rtt.max(0.0))
    }

    fn observe_long(&mut self, short: f64) {
        // Warm-up: a plain average of the first windows, then an exponential average.
        let warmup = 10.min(self.cfg.long_window);
        if self.long_count < warmup {
            self.long_count += 1;
            self.long_rtt += (short - self.long_rtt) / f64::from(self.long_count);
        } else {
            let f = 2.0 / (f64::from(self.cfg.long_window) + 1.0);
            self.long_rtt = self.long_rtt * (1.0 - f) + short * f;
        }
    }
}

impl Limit for Gradient2 {
    fn limit(&self) -> usize {
        self.limit as usize
    }

    fn update(&mut self, s: &Sample) -> usize {
        let short = s.rtt.as_secs_f64().max(1e-9);
        let baseline = match self.probe.on_window(s, s.rtt, self.limit, self.cfg.min_limit as f64) {
            Probe::Normal(b) => b.as_secs_f64(),
            Probe::Start(l) => {
                self.limit = l;
                return self.limit();
            }
            Probe::End(l) => {
                self.limit = l;
                // Restart the long-term RTT from the no-load estimate (an average over many
                // windows), not from the probe window alone (a few requests at half the limit).
                self.long_rtt = self.probe.baseline().map_or(short, |b| b.as_secs_f64());
                self.long_count = 1;
                return self.limit();
            }
        };
        self.observe_long(short);
        self.long_rtt = self.long_rtt.min(baseline * self.cfg.max_long_rtt_ratio);
        // A long-term RTT far above the short-term one means the queue drained: catch up fast.
        if self.long_rtt / short > 2.0 {
            self.long_rtt *= 0.95;
        }
        let gradient = (self.cfg.rtt_tolerance * self.long_rtt / short).clamp(0.5, 1.0);
        if let Some(l) = self.restore.step(self.limit, s, gradient >= 1.0) {
            self.limit = l.clamp(self.cfg.min_limit as f64, self.cfg.max_limit as f64);
            return self.limit();
        }
        if (s.max_inflight as f64) < self.limit / 2.0 {
            return self.limit();
        }
        let before = self.limit;
        let target = self.limit * gradient + self.cfg.queue_size;
        self.limit = (self.limit * (1.0 - self.cfg.smoothing) + target * self.cfg.smoothing)
            .clamp(self.cfg.min_limit as f64, self.cfg.max_limit as f64);
        self.restore.after_update(before, self.limit);
        self.limit()
    }

    fn name(&self) -> &'static str {
        "gradient2"
    }
}
