//! The breaker's window: count- or time-based, with the outcome bits and aggregates both share.

use super::count::CountWindow;
use super::time::TimeWindow;

/// Outcome bits recorded for one call.
pub(crate) const FAIL: u8 = 1;
pub(crate) const SLOW: u8 = 2;

/// Aggregates over the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) calls: u64,
    pub(crate) failed: u64,
    pub(crate) slow: u64,
}

/// A count-based or a time-based window.
#[derive(Debug)]
pub(crate) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    /// Records one outcome; returns the aggregates when the breaker should evaluate them
    /// (a failure or slow call, or the call count just reaching `min_calls`).
    #[inline]
    pub(crate) fn record(&self, now: u64, bits: u8, min_calls: u64) -> Option<Snapshot> {
        match self {
            Self::Count(w) => w.record(bits, min_calls),
            Self::Time(w) => w.record(now, bits, min_calls),
        }
    }

    pub(crate) fn snapshot(&self, now: u64) -> Snapshot {
        match self {
            Self::Count(w) => w.snapshot(),
            Self::Time(w) => w.snapshot(now),
        }
    }

    pub(crate) fn clear(&self) {
        match self {
            Self::Count(w) => w.clear(),
            Self::Time(w) => w.clear(),
        }
    }
}

pub(crate) fn clamp(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
