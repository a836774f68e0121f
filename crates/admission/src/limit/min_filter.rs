//! The no-load RTT estimate every adaptive limit compares windows with, and its periodic probe.

use std::time::Duration;

use super::Sample;

/// Windows the queue-free mean is averaged over (an exponential average, a plain one before).
const AVERAGE_WINDOWS: f64 = 16.0;
/// How far above the floor a probe window's fastest request may be and still count as
/// drained, and how much it must fall between two probe windows to count as still draining.
const DRAIN_MARGIN: f64 = 0.2;
/// Most halvings in one probe (a quarter, then an eighth of the limit).
const MAX_PROBE_DEPTH: u32 = 3;

/// The no-load RTT that a limit compares windows with, and the periodic probe that keeps it
/// honest.
///
/// **Probe** (as Envoy's adaptive concurrency filter does it): every `period` windows, starting
/// with the first, the limit is halved for one window, which drains a standing queue the
/// limit built; what that window sees is the no-load state.
///
/// **Estimate** (decision 0038): the average, over about 16 windows, of each window's mean
/// RTT minus its *standing queue*, where the standing queue is how far the window's fastest
/// request sits above the floor (the lowest window minimum since the last probe, which resets
/// it). A standing queue delays every request, the fastest too, so the minimum measures it
/// precisely even when the mean is noisy (CoDel's signal); what is left of the mean is service
/// time, and averaging it over windows gives a precise, unbiased no-load mean.
///
/// The lowest window *mean* that this replaces was biased low: with spread-out service times
/// (90 % at 2 ms and 10 % at 50 ms) a window of 15 sampled requests averages anywhere from 2
/// to 15 ms, the lowest of a hundred such means is 2 ms against a true mean of 6.8 ms, every
/// ordinary window looked like a queue, and AIMD shrank its limit to 1. Raising the lowest
/// mean by its noise instead (a confidence bound) overshot on small windows, let the limit
/// build a queue the half-limit probe could not drain, and the estimate then absorbed that
/// queue at every probe. With one sample per window (no spread: `Sample::new`) the minimum is
/// the mean, and the estimate is the lowest window mean, as before.
#[derive(Debug, Clone)]
pub(crate) struct MinRttProbe {
    /// Lowest window minimum since the last probe (the probe window's own minimum after it).
    floor: Option<Duration>,
    /// Average of the windows' queue-free means, ns, weighted by request count.
    free_sum: f64,
    free_weight: f64,
    /// Windows averaged so far (a plain average until `AVERAGE_WINDOWS`).
    averaged: f64,
    windows: u32,
    period: u32,
    /// The limit to restore after the probe.
    saved: Option<f64>,
    /// Halvings so far in this probe, and its lowest window minimum.
    depth: u32,
    probe_fastest: Option<Duration>,
}

/// What the limit should do with this window.
pub(crate) enum Probe {
    /// A normal window; the no-load RTT to compare with.
    Normal(Duration),
    /// Start a probe: set the limit to this for one window.
    Start(f64),
    /// The probe window ended: the no-load RTT was re-measured, restore this limit.
    End(f64),
}

impl MinRttProbe {
    pub(crate) fn new(period: u32) -> Self {
        Self {
            floor: None,
            free_sum: 0.0,
            free_weight: 0.0,
            averaged: 0.0,
            windows: 0,
            period: period.max(2),
            saved: None,
            depth: 0,
            probe_fastest: None,
        }
    }

    /// Feeds one window whose mean RTT is `rtt` (the sample's, possibly clamped by the caller).
    pub(crate) fn on_window(&mut self, s: &Sample, rtt: Duration, limit: f64, min_limit: f64) -> Probe {
        let fastest = s.min_rtt.min(rtt);
        if let Some(saved) = self.saved {
            return self.probe_window(s, rtt, fastest, saved, limit, min_limit);
        }
        let floor = self.floor.map_or(fastest, |f| f.min(fastest));
        self.floor = Some(floor);
        self.observe(s, rtt, fastest);
        self.windows = self.windows.wrapping_add(1);
        if self.windows % self.period == 1 {
            let probe = (limit / 2.0).ceil().max(min_limit);
            if probe < limit {
                self.saved = Some(limit);
                self.depth = 1;
                return Probe::Start(probe);
            }
        }
        Probe::Normal(self.baseline().unwrap_or(rtt))
    }

    /// A probe window ended. If its fastest request is still above the floor and was still
    /// falling, the halving did not drain the queue (a limit far above the server's
    /// concurrency): halve again. Otherwise the probe ends, and its lowest minimum is the new
    /// floor; a floor that rose (a slower service, not a queue: halving again did not lower
    /// it) restarts the average.
    fn probe_window(
        &mut self,
        s: &Sample,
        rtt: Duration,
        fastest: Duration,
        saved: f64,
        limit: f64,
        min_limit: f64,
    ) -> Probe {
        let old_floor = self.floor.unwrap_or(fastest);
        let above_floor = fastest.as_secs_f64() > old_floor.as_secs_f64() * (1.0 + DRAIN_MARGIN);
        let falling = self.probe_fastest.is_none_or(|p| fastest.as_secs_f64() < p.as_secs_f64() * (1.0 - DRAIN_MARGIN));
        let lowest = self.probe_fastest.map_or(fastest, |p| p.min(fastest));
        self.probe_fastest = Some(lowest);
        let deeper = (limit / 2.0).ceil().max(min_limit);
        if above_floor && falling && self.depth < MAX_PROBE_DEPTH && deeper < limit {
            self.observe(s, rtt, fastest);
            self.depth += 1;
            return Probe::Start(deeper);
        }
        if lowest.as_secs_f64() > old_floor.as_secs_f64() * (1.0 + DRAIN_MARGIN) {
            (self.free_sum, self.free_weight, self.averaged) = (0.0, 0.0, 0.0);
        }
        self.floor = Some(lowest);
        self.observe(s, rtt, fastest);
        self.saved = None;
        self.depth = 0;
        self.probe_fastest = None;
        Probe::End(saved)
    }

    /// The no-load RTT estimate, once a window was seen.
    pub(crate) fn baseline(&self) -> Option<Duration> {
        if self.free_weight <= 0.0 {
            return self.floor;
        }
        Some(Duration::try_from_secs_f64(self.free_sum / self.free_weight / 1e9).unwrap_or(Duration::MAX))
    }

    /// Adds the window's queue-free mean: its mean minus how far its fastest request sits
    /// above the floor.
    fn observe(&mut self, s: &Sample, rtt: Duration, fastest: Duration) {
        let standing = fastest.saturating_sub(self.floor.unwrap_or(fastest));
        let free = rtt.saturating_sub(standing).as_nanos() as f64;
        // Weighted by requests, so a window of 2 counts less than one of 50; at least 1.
        let n = (s.count.max(1) as f64).min(1e12);
        // A plain average of the first windows, then an exponential one.
        let keep = if self.averaged < AVERAGE_WINDOWS { 1.0 } else { 1.0 - 1.0 / AVERAGE_WINDOWS };
        self.averaged += 1.0;
        self.free_sum = self.free_sum * keep + free * n;
        self.free_weight = self.free_weight * keep + n;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ms(v: f64) -> Duration {
        Duration::from_secs_f64(v / 1000.0)
    }

    /// A window of 15 requests with this mean and fastest request.
    fn window(i: u64, mean: f64, fastest: f64) -> Sample {
        Sample::new(Duration::from_millis(i * 100), ms(mean), 8).with_requests(15, ms(fastest))
    }

    /// Feeds windows past the first probe (window 1 halves the limit, window 2 ends it).
    fn settled(p: &mut MinRttProbe, windows: &[(f64, f64)]) -> Duration {
        let mut last = Duration::ZERO;
        for (i, (mean, fastest)) in windows.iter().enumerate() {
            if let Probe::Normal(b) = p.on_window(&window(i as u64, *mean, *fastest), ms(*mean), 8.0, 1.0) {
                last = b;
            }
        }
        last
    }

    #[test]
    fn the_lowest_of_noisy_window_means_is_not_the_baseline() {
        // Bimodal windows: every one has a 2 ms request, the means swing from 2 to 12 ms.
        let windows: Vec<(f64, f64)> = (0..40).map(|i| (if i % 3 == 0 { 2.0 } else { 12.0 }, 2.0)).collect();
        let b = settled(&mut MinRttProbe::new(100), &windows).as_secs_f64() * 1000.0;
        assert!((b - 8.67).abs() < 0.7, "baseline {b} ms: the mean of the means, not their lowest (2 ms)");
    }

    #[test]
    fn a_standing_queue_is_not_taken_for_service_time() {
        // 10 windows without a queue, then 30 where every request waits 5 ms more.
        let mut windows: Vec<(f64, f64)> = vec![(7.0, 2.0); 10];
        windows.extend(vec![(12.0, 7.0); 30]);
        let b = settled(&mut MinRttProbe::new(100), &windows).as_secs_f64() * 1000.0;
        assert!((b - 7.0).abs() < 0.01, "baseline {b} ms absorbed the queue");
    }

    #[test]
    fn a_probe_that_did_not_drain_halves_again_and_a_slower_service_is_followed() {
        let mut p = MinRttProbe::new(10);
        let mut i = 0;
        let mut step = |p: &mut MinRttProbe, mean: f64, fastest: f64, limit: f64| {
            i += 1;
            p.on_window(&window(i, mean, fastest), ms(mean), limit, 1.0)
        };
        assert!(matches!(step(&mut p, 7.0, 2.0, 40.0), Probe::Start(l) if l == 20.0));
        assert!(matches!(step(&mut p, 7.0, 2.0, 20.0), Probe::End(l) if l == 40.0), "drained: at the floor");
        // A standing queue of 2 ms until the next probe.
        while matches!(step(&mut p, 9.0, 4.0, 40.0), Probe::Normal(_)) {}
        // Halving left the fastest request at 3 ms: above the floor and still falling.
        assert!(matches!(step(&mut p, 8.0, 3.0, 20.0), Probe::Start(l) if l == 10.0));
        assert!(matches!(step(&mut p, 7.0, 2.0, 10.0), Probe::End(l) if l == 40.0), "drained at a quarter");
        let b = p.baseline().unwrap().as_secs_f64() * 1000.0;
        assert!((b - 7.0).abs() < 0.01, "baseline {b} ms");
        // The service gets 3× slower for good: the next probe finds no lower floor, keeps it,
        // and the average restarts from the new service time.
        while matches!(step(&mut p, 21.0, 6.0, 40.0), Probe::Normal(_)) {}
        assert!(matches!(step(&mut p, 21.0, 6.0, 20.0), Probe::Start(_)), "above the old floor: look deeper");
        assert!(matches!(step(&mut p, 21.0, 6.0, 10.0), Probe::End(_)), "not falling: a slower service");
        assert_eq!(p.baseline(), Some(ms(21.0)));
    }
}
