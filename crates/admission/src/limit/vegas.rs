//! [`Vegas`]: TCP Vegas's queue estimate applied to requests.

use std::time::Duration;

use super::check::{check_bounds, check_ratio};
use super::min_filter::{MinRttProbe, Probe};
use super::restore::Restore;
use super::{Limit, Sample};
use crate::ConfigError;

/// Settings of [`Vegas`]. Defaults: initial 20, bounds `[1, 1000]`, alpha 3, beta 6 (times
/// log10 of the limit), smoothing 1.0, probe the minimum RTT every 100 windows.
#[derive(Debug, Clone, PartialEq)]
pub struct VegasConfig {
    /// Starting limit.
    pub initial: usize,
    /// Lowest limit.
    pub min_limit: usize,
    /// Highest limit.
    pub max_limit: usize,
    /// Grow while the estimated queue is below `alpha × log10(limit)`.
    pub alpha: f64,
    /// Shrink when the estimated queue is above `beta × log10(limit)`.
    pub beta: f64,
    /// Weight of the new limit against the old one, in (0, 1].
    pub smoothing: f64,
    /// Minimum-RTT probing period: every this many windows (from the first) the limit is halved
    /// for one window, which drains a standing queue the limit built (and halved again, up to
    /// three times, while the window's fastest request is still falling towards the floor);
    /// the fastest request of the last probe window becomes the floor. Between probes, the
    /// no-load RTT is the average over about 16 windows of each window's mean minus how far its
    /// fastest request sits above the floor (its standing queue): precise when service times
    /// are spread out, where the lowest window mean is far below the true one (decision 0038).
    pub probe_interval: u32,
}

impl Default for VegasConfig {
    fn default() -> Self {
        Self { initial: 20, min_limit: 1, max_limit: 1000, alpha: 3.0, beta: 6.0, smoothing: 1.0, probe_interval: 100 }
    }
}

/// TCP Vegas applied to requests: the queue a limit builds is estimated as
/// `limit × (1 − rtt_noload / rtt)`, where `rtt` is a control window's mean and `rtt_noload`
/// the recent average of queue-free window means (see
/// [`VegasConfig::probe_interval`]); the limit grows while that queue is small and shrinks
/// when it is large (by half the excess queue per window, so a load step settles within a few
/// windows).
///
/// # Examples
///
/// ```
/// use perfstack_admission::limit::{Limit, Sample, Vegas, VegasConfig};
/// use std::time::Duration;
/// let ms = Duration::from_millis;
/// let mut l = Vegas::new(VegasConfig::default())?;
/// assert_eq!(l.update(&Sample::new(ms(100), ms(10), 20)), 10); // min-RTT probe: half the limit
/// assert_eq!(l.update(&Sample::new(ms(200), ms(10), 10)), 20); // baseline measured, restored
/// assert!(l.update(&Sample::new(ms(300), ms(10), 20)) > 20); // no queue: grow
/// let before = l.limit();
/// assert!(l.update(&Sample::new(ms(400), ms(40), before)) < before); // RTT ×4: queue, shrink
/// # Ok::<(), perfstack_admission::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Vegas {
    cfg: VegasConfig,
    limit: f64,
    noload: MinRttProbe,
    restore: Restore,
}

impl Vegas {
    /// Builds the limit.
    ///
    /// # Errors
    ///
    /// Bad bounds, `alpha`/`beta` not finite or `alpha > beta`, smoothing outside (0, 1],
    /// a zero probe interval.
    pub fn new(cfg: VegasConfig) -> Result<Self, ConfigError> {
        check_bounds(cfg.initial, cfg.min_limit, cfg.max_limit)?;
        check_ratio("alpha", cfg.alpha, 0.0, 1e6)?;
        check_ratio("beta", cfg.beta, cfg.alpha, 1e6)?;
        check_ratio("smoothing", cfg.smoothing, 1e-6, 1.0)?;
        if cfg.probe_interval == 0 {
            return Err(ConfigError::Zero("probe_interval"));
        }
        Ok(Self {
            limit: cfg.initial as f64,
            noload: MinRttProbe::new(cfg.probe_interval),
            restore: Restore::default(),
            cfg,
        })
    }

    /// The no-load RTT the limit compares against, once learned.
    #[must_use]
    pub fn rtt_noload(&self) -> Option<Duration> {
        self.noload.baseline()
    }
}

impl Limit for Vegas {
    fn limit(&self) -> usize {
        self.limit as usize
    }

    fn update(&mut self, s: &Sample) -> usize {
        let noload =
            match self.noload.on_window(s, s.rtt.max(Duration::from_nanos(1)), self.limit, self.cfg.min_limit as f64) {
                Probe::Normal(b) => b,
                Probe::Start(l) | Probe::End(l) => {
                    self.limit = l;
                    return self.limit();
                }
            };
        let rtt = s.rtt.max(noload).as_secs_f64();
        let queue = (self.limit * (1.0 - noload.as_secs_f64() / rtt)).ceil();
        let step = log10_step(self.limit);
        if let Some(l) = self.restore.step(self.limit, s, queue < self.cfg.alpha * step) {
            self.limit = l.clamp(self.cfg.min_limit as f64, self.cfg.max_limit as f64);
            return self.limit();
        }
        let target = if s.dropped {
            self.limit - step
        } else if (s.max_inflight as f64) * 2.0 < self.limit {
            // Application-limited: the RTT says nothing about a limit we are not using.
            return self.limit();
        } else if queue <= step {
            self.limit + self.cfg.beta * step
        } else if queue < self.cfg.alpha * step {
            self.limit + step
        } else if queue > self.cfg.beta * step {
            // Remove half of the excess queue per window (Netflix removes log10(limit), which
            // takes tens of windows after a load step).
            self.limit - step.max((queue - self.cfg.beta * step) / 2.0)
        } else {
            return self.limit();
        };
        let target = target.clamp(self.cfg.min_limit as f64, self.cfg.max_limit as f64);
        let before = self.limit;
        self.limit = ((1.0 - self.cfg.smoothing) * self.limit + self.cfg.smoothing * target)
            .clamp(self.cfg.min_limit as f64, self.cfg.max_limit as f64);
        self.restore.after_update(before, self.limit);
        self.limit()
    }

    fn name(&self) -> &'static str {
        "vegas"
    }
}

/// log10 of the limit, at least 1: the step, so that large limits move by more than one per
/// window.
fn log10_step(limit: f64) -> f64 {
    limit.max(1.0).log10().max(1.0)
}
