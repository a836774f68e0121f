//! What a load run measured.

use std::time::Duration;

use hdrhistogram::Histogram;

/// The outcome of one [`OpenLoop`](super::OpenLoop) run. Latencies are measured from each
/// request's scheduled start and include both successes and errors.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Requests the schedule held.
    pub scheduled: u64,
    /// Requests that returned `Ok`.
    pub ok: u64,
    /// Requests that returned `Err`.
    pub errors: u64,
    /// Requests not started because `max_in_flight` requests were already running.
    pub dropped: u64,
    /// Requests still running when the drain time ran out; they were aborted.
    pub timed_out: u64,
    /// From the first scheduled start to the last completion.
    pub elapsed: Duration,
    /// The furthest the generator fell behind its own schedule when starting a request.
    pub max_dispatch_lag: Duration,
    pub(crate) latencies: Histogram<u64>,
}

impl LoadReport {
    #[allow(clippy::expect_used)] // constant bounds that hdrhistogram accepts
    pub(crate) fn new(scheduled: u64) -> Self {
        Self {
            scheduled,
            ok: 0,
            errors: 0,
            dropped: 0,
            timed_out: 0,
            elapsed: Duration::ZERO,
            max_dispatch_lag: Duration::ZERO,
            // 1 ns to one hour at three significant figures; record() saturates above.
            latencies: Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds"),
        }
    }

    pub(crate) fn record(&mut self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.latencies.saturating_record(ns);
    }

    /// Completed requests (ok and errors).
    #[must_use]
    pub fn completed(&self) -> u64 {
        self.ok + self.errors
    }

    /// The latency at quantile `q` in `[0, 1]`; zero when nothing completed.
    #[must_use]
    pub fn percentile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.latencies.value_at_quantile(q.clamp(0.0, 1.0)))
    }

    /// Median latency.
    #[must_use]
    pub fn p50(&self) -> Duration {
        self.percentile(0.5)
    }

    /// 99th percentile latency.
    #[must_use]
    pub fn p99(&self) -> Duration {
        self.percentile(0.99)
    }

    /// 99.9th percentile latency.
    #[must_use]
    pub fn p999(&self) -> Duration {
        self.percentile(0.999)
    }

    /// The largest latency.
    #[must_use]
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.latencies.max())
    }

    /// Successful requests per second over the run.
    #[must_use]
    pub fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }
}
