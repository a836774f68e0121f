//! Restoring the limit held before congestion once the demand has dropped.

use super::Sample;

/// Remembers the limit held when a run of decreases began, and gives it back quickly once
/// the load has dropped: a window with no drop, no queueing (as the algorithm judges it) and
/// a limit that is not binding (the peak in flight stays below 90 % of it).
///
/// This is TCP's "restore the congestion window after recovery" (BBR's `prior_cwnd`):
/// additive increase alone needs tens of windows to climb back, and an application-limited
/// window (half the limit unused) never grows at all, so after a load spike the limit would
/// stay at its overload level. The restored level is bounded by a level the algorithm already
/// held, so this never grows the limit beyond what it had validated. Each window closes three
/// quarters of the gap, and snaps to the level within 5 %.
#[derive(Debug, Clone, Default)]
pub(crate) struct Restore {
    prior: Option<f64>,
}

impl Restore {
    /// The next limit when restoring applies to this window, else `None`.
    pub(crate) fn step(&mut self, limit: f64, s: &Sample, uncongested: bool) -> Option<f64> {
        let prior = self.prior?;
        if limit >= prior {
            self.prior = None;
            return None;
        }
        if s.dropped || !uncongested || s.max_inflight as f64 >= 0.9 * limit {
            return None;
        }
        let next = limit + 0.75 * (prior - limit);
        if next >= 0.95 * prior {
            self.prior = None;
            return Some(prior);
        }
        Some(next)
    }

    /// Call after every update: a decrease that starts a congested run remembers the level.
    pub(crate) fn after_update(&mut self, before: f64, after: f64) {
        if after < before && self.prior.is_none() {
            self.prior = Some(before);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;

    fn window(inflight: usize) -> Sample {
        Sample::new(Duration::ZERO, Duration::from_millis(10), inflight)
    }

    #[test]
    fn gives_back_the_prior_level_only_when_demand_dropped() {
        let mut r = Restore::default();
        assert_eq!(r.step(20.0, &window(5), true), None, "nothing remembered");
        r.after_update(40.0, 30.0);
        r.after_update(30.0, 25.0); // the run's first level is kept
        assert_eq!(r.step(25.0, &window(25), true), None, "limit still binding");
        assert_eq!(r.step(25.0, &window(5), false), None, "still queueing");
        assert_eq!(r.step(25.0, &window(5).with_drop(), true), None, "drops");
        let next = r.step(25.0, &window(5), true).unwrap();
        assert!((next - 36.25).abs() < 1e-9, "{next}");
        assert_eq!(r.step(next, &window(5), true), Some(40.0));
        assert_eq!(r.step(40.0, &window(5), true), None, "done");
    }
}
