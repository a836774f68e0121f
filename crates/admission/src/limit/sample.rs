//! [`Sample`]: one control window's aggregate, the input of every limit.

use std::time::Duration;

/// One control window's aggregate, fed to a [`Limit`](super::Limit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When the window closed, since any fixed epoch (only differences matter).
    pub now: Duration,
    /// Mean round-trip time of the requests that completed in the window.
    pub rtt: Duration,
    /// The smallest round-trip time seen in the window: how long even the fastest request
    /// took, so it rises with a standing queue (which delays every request) and barely with
    /// the spread of service times.
    pub min_rtt: Duration,
    /// The most requests in flight at once during the window.
    pub max_inflight: usize,
    /// Requests completed in the window.
    pub count: u64,
    /// True if any request in the window was dropped (timed out, overloaded downstream).
    pub dropped: bool,
}

impl Sample {
    /// A window whose requests all took `rtt`, with `inflight` at most in flight, none dropped.
    #[must_use]
    pub fn new(now: Duration, rtt: Duration, max_inflight: usize) -> Self {
        Self { now, rtt, min_rtt: rtt, max_inflight, count: 1, dropped: false }
    }

    /// The same sample as the aggregate of `count` requests with mean `rtt`, the fastest of
    /// which took `min_rtt`.
    ///
    /// ```
    /// use perfstack_admission::limit::Sample;
    /// use std::time::Duration;
    /// let ms = Duration::from_millis;
    /// let s = Sample::new(ms(100), ms(7), 8).with_requests(15, ms(2));
    /// assert_eq!((s.count, s.min_rtt), (15, ms(2)));
    /// ```
    #[must_use]
    pub fn with_requests(mut self, count: u64, min_rtt: Duration) -> Self {
        self.count = count;
        self.min_rtt = min_rtt;
        self
    }

    /// The same sample, marked as having seen a drop.
    #[must_use]
    pub fn with_drop(mut self) -> Self {
        self.dropped = true;
        self
    }
}
