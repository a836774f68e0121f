use std::time::Duration;

/// Minimum-RTT probing (as Envoy's adaptive concurrency filter does it): every `period`
/// windows, starting with the first, the limit is halved for one window and the RTT measured
/// in that window becomes the no-load baseline; between probes the baseline only goes down.
/// Without the probe, a limit that starts (or drifts) above the server's concurrency never
/// sees the unloaded RTT, and its baseline creeps up with the queue it builds.
#[derive(Debug, Clone)]
pub(crate) struct MinRttProbe {
    baseline: Option<Duration>,
    windows: u32,
    period: u32,
    /// The limit to restore after the probe window.
    saved: Option<f64>,
}

/// What the limit should do with this window.
pub(crate) enum Probe {
    /// A normal window; the baseline to compare with.
    Normal(Duration),
    /// Start a probe: set the limit to this for one window.
    Start(f64),
    /// The probe window ended: the baseline was re-measured, restore this limit.
    End(f64),
}

impl MinRttProbe {
    pub(crate) fn new(period: u32) -> Self {
        Self { baseline: None, windows: 0, period: period.max(2), saved: None }
    }

    pub(crate) fn on_window(&mut self, rtt: Duration, limit: f64, min_limit: f64) -> Probe {
        if let Some(saved) = self.saved.take() {
            self.baseline = Some(rtt);
            return Probe::End(saved);
        }
        self.baseline = Some(self.baseline.map_or(rtt, |b| b.min(rtt)));
        self.windows = self.windows.wrapping_add(1);
        if self.windows % self.period == 1 {
            let probe = (limit / 2.0).ceil().max(min_limit);
            if probe < limit {
                self.saved = Some(limit);
                return Probe::Start(probe);
            }
        }
        Probe::Normal(self.baseline.unwrap_or(rtt))
    }

    pub(crate) fn baseline(&self) -> Option<Duration> {
        self.baseline
    }
}
