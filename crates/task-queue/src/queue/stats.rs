//! Counters, latency histograms and the [`QueueStats`] snapshot `TaskQueue::stats()` returns.

use std::time::Duration;

use serde::Serialize;

use crate::striped::Counter;

/// A lock-free histogram with power-of-two microsecond buckets (bucket `i` holds values below
/// `2^i` µs), good for p50/p99 within a factor of two.
#[derive(Debug, Default)]
pub(crate) struct Log2Histogram {
    buckets: crate::striped::Buckets<40>,
}

impl Log2Histogram {
    pub(crate) fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = (64 - us.leading_zeros()) as usize;
        self.buckets.add(i);
    }

    fn snapshot(&self) -> LatencySummary {
        let counts = self.buckets.counts();
        let total: u64 = counts.iter().sum();
        let pct = |q: f64| -> u64 {
            if total == 0 {
                return 0;
            }
            // Rank of the q-quantile, rounded up, at least 1.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
            let rank = ((q * total as f64).ceil() as u64).max(1);
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return if i == 0 { 0 } else { 1u64 << i };
                }
            }
            1u64 << 39
        };
        LatencySummary { count: total, p50_us_at_most: pct(0.5), p99_us_at_most: pct(0.99) }
    }
}

/// Count and upper bounds of the median and 99th percentile (power-of-two buckets).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// The median is at most this many microseconds.
    pub p50_us_at_most: u64,
    /// The 99th percentile is at most this many microseconds.
    pub p99_us_at_most: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) submitted: Counter,
    pub(crate) refused: Counter,
    pub(crate) completed: Counter,
    pub(crate) retried: Counter,
    pub(crate) dead: Counter,
    pub(crate) cancelled: Counter,
    pub(crate) released: Counter,
    pub(crate) panicked: Counter,
    pub(crate) timed_out: Counter,
    pub(crate) stale_rejected: Counter,
    pub(crate) wait: Log2Histogram,
    pub(crate) run: Log2Histogram,
}

impl Counters {
    pub(crate) fn snapshot(&self, depth: [u64; 5]) -> QueueStats {
        QueueStats {
            depth: DepthByPriority {
                low: depth[0],
                normal: depth[1],
                high: depth[2],
                urgent: depth[3],
                critical: depth[4],
            },
            submitted: self.submitted.get(),
            refused: self.refused.get(),
            completed: self.completed.get(),
            retried: self.retried.get(),
            dead_lettered: self.dead.get(),
            cancelled: self.cancelled.get(),
            released: self.released.get(),
            panicked: self.panicked.get(),
            timed_out: self.timed_out.get(),
            stale_completions_rejected: self.stale_rejected.get(),
            wait: self.wait.snapshot(),
            run: self.run.snapshot(),
        }
    }
}

/// Waiting tasks per priority.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DepthByPriority {
    /// `Low`.
    pub low: u64,
    /// `Normal`.
    pub normal: u64,
    /// `High`.
    pub high: u64,
    /// `Urgent`.
    pub urgent: u64,
    /// `Critical`.
    pub critical: u64,
}

/// A snapshot of the queue as seen from this process, returned by
/// [`TaskQueue::stats`](crate::TaskQueue::stats) (counters count what this process's queue
/// handle and worker pools did; depth comes from the backend and covers every process).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct QueueStats {
    /// Waiting tasks per priority.
    pub depth: DepthByPriority,
    /// Tasks submitted.
    pub submitted: u64,
    /// Submits refused (full, oversized, duplicate).
    pub refused: u64,
    /// Attempts that completed.
    pub completed: u64,
    /// Attempts that failed and were scheduled again.
    pub retried: u64,
    /// Tasks sent to dead-letter.
    pub dead_lettered: u64,
    /// Tasks cancelled while running.
    pub cancelled: u64,
    /// Attempts handed back at shutdown.
    pub released: u64,
    /// Attempts whose handler panicked.
    pub panicked: u64,
    /// Attempts that timed out.
    pub timed_out: u64,
    /// Outcome writes rejected because the lease had moved on (fencing).
    pub stale_completions_rejected: u64,
    /// Time from ready to start.
    pub wait: LatencySummary,
    /// Handler run time.
    pub run: LatencySummary,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_upper_bounds() {
        let h = Log2Histogram::default();
        for _ in 0..99 {
            h.record(Duration::from_micros(100));
        }
        h.record(Duration::from_millis(50));
        let s = h.snapshot();
        assert_eq!(s.count, 100);
        assert!(s.p50_us_at_most >= 100 && s.p50_us_at_most < 256);
        assert!(s.p99_us_at_most >= 100 && s.p99_us_at_most < 256);
    }
}
