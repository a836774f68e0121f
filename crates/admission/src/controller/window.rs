//! The control window: latencies aggregated until it closes into one `Sample` for the limit.

use std::time::Duration;

use crate::limit::Sample;

/// When a control window closes: after `min` if it has `min_samples`, and after `max` in any
/// case (with at least one sample).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct WindowPolicy {
    pub(crate) min: Duration,
    pub(crate) max: Duration,
    pub(crate) min_samples: u64,
}

/// Running aggregate of the requests completed in the current window.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    start: Duration,
    sum_rtt_ns: u128,
    count: u64,
    min_rtt: Duration,
    max_inflight: usize,
    dropped: bool,
}

impl Window {
    pub(crate) fn new(start: Duration, inflight: usize) -> Self {
        Self { start, sum_rtt_ns: 0, count: 0, min_rtt: Duration::MAX, max_inflight: inflight, dropped: false }
    }

    #[inline]
    pub(crate) fn saw_inflight(&mut self, inflight: usize) {
        self.max_inflight = self.max_inflight.max(inflight);
    }

    #[inline]
    pub(crate) fn add(&mut self, rtt: Duration, dropped: bool) {
        self.sum_rtt_ns += rtt.as_nanos();
        self.count += 1;
        self.min_rtt = self.min_rtt.min(rtt);
        self.dropped |= dropped;
    }

    #[inline]
    pub(crate) fn add_drop(&mut self) {
        self.dropped = true;
    }

    /// The window's sample if it is due at `now`.
    #[inline]
    pub(crate) fn close_if_due(&self, now: Duration, p: &WindowPolicy) -> Option<Sample> {
        let age = now.saturating_sub(self.start);
        let due = (age >= p.min && self.count >= p.min_samples) || (age >= p.max && self.count > 0);
        if !due {
            return None;
        }
        let mean = u64::try_from(self.sum_rtt_ns / u128::from(self.count)).unwrap_or(u64::MAX);
        Some(Sample {
            now,
            rtt: Duration::from_nanos(mean),
            min_rtt: self.min_rtt,
            max_inflight: self.max_inflight,
            count: self.count,
            dropped: self.dropped,
        })
    }
}
