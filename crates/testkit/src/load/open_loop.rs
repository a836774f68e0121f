//! The generator: starts requests on schedule and collects their outcomes.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::error::LoadError;
use super::report::LoadReport;
use super::schedule::{offsets, Arrivals};

/// A bounded open-loop load: `rate` requests per second, at most `max_requests` of them, none
/// scheduled after `max_duration`, at most `max_in_flight` running at once (more are counted as
/// dropped, not queued), and at most `drain` to wait for the last ones.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use perfstack_testkit::load::{Arrivals, OpenLoop};
///
/// let report = OpenLoop::new(200.0)
///     .arrivals(Arrivals::Poisson { seed: 1 })
///     .max_requests(50)
///     .max_duration(Duration::from_secs(2))
///     .run(|_i| async { Ok::<(), std::convert::Infallible>(()) })
///     .await
///     .unwrap();
/// assert_eq!(report.ok, 50);
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct OpenLoop {
    rate: f64,
    arrivals: Arrivals,
    max_requests: u64,
    max_duration: Duration,
    max_in_flight: usize,
    drain: Duration,
}

impl OpenLoop {
    /// A uniform schedule at `rate` requests per second; by default at most 10,000 requests
    /// within 10 s, 10,000 in flight, and 10 s to drain.
    pub fn new(rate: f64) -> Self {
        Self {
            rate,
            arrivals: Arrivals::Uniform,
            max_requests: 10_000,
            max_duration: Duration::from_secs(10),
            max_in_flight: 10_000,
            drain: Duration::from_secs(10),
        }
    }

    /// How arrivals are spaced.
    pub fn arrivals(mut self, arrivals: Arrivals) -> Self {
        self.arrivals = arrivals;
        self
    }

    /// The most requests the run starts.
    pub fn max_requests(mut self, n: u64) -> Self {
        self.max_requests = n;
        self
    }

    /// No request is scheduled at or after this time from the start.
    pub fn max_duration(mut self, d: Duration) -> Self {
        self.max_duration = d;
        self
    }

    /// The most requests running at once; a request due while that many run is dropped.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// How long to wait for running requests after the last one started; the rest are aborted.
    pub fn drain(mut self, d: Duration) -> Self {
        self.drain = d;
        self
    }

    /// The schedule this run follows: offsets from its start.
    ///
    /// # Errors
    ///
    /// When the settings are invalid.
    pub fn schedule(&self) -> Result<Vec<Duration>, LoadError> {
        self.validate()?;
        Ok(offsets(self.rate, self.arrivals, self.max_requests, self.max_duration))
    }

    fn validate(&self) -> Result<(), LoadError> {
        if !self.rate.is_finite() || self.rate <= 0.0 {
            return Err(LoadError::InvalidRate(self.rate));
        }
        if self.max_requests == 0 {
            return Err(LoadError::ZeroBound("max_requests"));
        }
        if self.max_duration.is_zero() {
            return Err(LoadError::ZeroBound("max_duration"));
        }
        if self.max_in_flight == 0 {
            return Err(LoadError::ZeroBound("max_in_flight"));
        }
        Ok(())
    }

    /// Runs the load: `request(i)` is called for the i-th scheduled request and spawned as its
    /// own task.
    ///
    /// # Errors
    ///
    /// When the settings are invalid; failed requests are counted in the report instead.
    pub async fn run<F, Fut, E>(&self, request: F) -> Result<LoadReport, LoadError>
    where
        F: Fn(u64) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Send + 'static,
    {
        let schedule = self.schedule()?;
        let mut report = LoadReport::new(schedule.len() as u64);
        let in_flight = Arc::new(AtomicUsize::new(0));
        let mut tasks = JoinSet::new();
        let start = Instant::now();

        for (i, offset) in schedule.iter().enumerate() {
            let due = start + *offset;
            tokio::time::sleep_until(due).await;
            // Collect what finished meanwhile, so memory stays bounded by max_in_flight.
            while let Some(done) = tasks.try_join_next() {
                tally(&mut report, done);
            }
            report.max_dispatch_lag = report.max_dispatch_lag.max(Instant::now() - due);
            if in_flight.load(Ordering::Acquire) >= self.max_in_flight {
                report.dropped += 1;
                continue;
            }
            in_flight.fetch_add(1, Ordering::AcqRel);
            let fut = request(i as u64);
            let counter = Arc::clone(&in_flight);
            tasks.spawn(async move {
                let outcome = fut.await.is_ok();
                counter.fetch_sub(1, Ordering::AcqRel);
                (outcome, Instant::now() - due)
            });
        }

        let drain_until = Instant::now() + self.drain;
        loop {
            match tokio::time::timeout_at(drain_until, tasks.join_next()).await {
                Ok(Some(done)) => tally(&mut report, done),
                Ok(None) => break,
                Err(_) => {
                    report.timed_out = tasks.len() as u64;
                    tasks.abort_all();
                    break;
                }
            }
        }
        report.elapsed = Instant::now() - start;
        Ok(report)
    }
}

fn tally(report: &mut LoadReport, done: Result<(bool, Duration), tokio::task::JoinError>) {
    match done {
        Ok((ok, latency)) => {
            if ok {
                report.ok += 1;
            } else {
                report.errors += 1;
            }
            report.record(latency);
        }
        // A request that panicked is an error of the system under test, not of the generator.
        Err(_) => report.errors += 1,
    }
}
