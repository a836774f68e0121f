//! The pipeline builder: the order of the calls does not matter, the pipeline order is fixed.

use super::handle::Pipeline;
use crate::breaker::CircuitBreaker;
use crate::bulkhead::Bulkhead;
use crate::hedge::Hedge;
use crate::retry::Retry;
use crate::throttle::AdaptiveThrottle;
use crate::timeout::Timeout;

/// Builds a [`Pipeline`]; the order of the calls does not matter, the pipeline order is fixed.
#[must_use]
#[derive(Debug, Default)]
pub struct PipelineBuilder {
    p: Pipeline,
}

impl PipelineBuilder {
    /// Hedged runs of the rest of the pipeline (outermost). Backups withdraw from the hedge's
    /// own budget, or else from the retry's budget.
    ///
    /// Hedging runs the call more than once at the same time, so the pipeline then hands the
    /// call closure to one run at a time (behind a lock held only while it makes the future).
    pub fn hedge(mut self, h: Hedge) -> Self {
        self.p.hedge = Some(h);
        self
    }

    /// Retries (inside the hedge, around everything else).
    pub fn retry(mut self, r: Retry) -> Self {
        self.p.retry = Some(r);
        self
    }

    /// Client-side adaptive throttling.
    pub fn throttle(mut self, t: AdaptiveThrottle) -> Self {
        self.p.throttle = Some(t);
        self
    }

    /// A circuit breaker.
    pub fn breaker(mut self, b: CircuitBreaker) -> Self {
        self.p.breaker = Some(b);
        self
    }

    /// A bulkhead.
    pub fn bulkhead(mut self, b: Bulkhead) -> Self {
        self.p.bulkhead = Some(b);
        self
    }

    /// A timeout per attempt (innermost).
    pub fn timeout(mut self, t: Timeout) -> Self {
        self.p.timeout = Some(t);
        self
    }

    /// The pipeline.
    pub fn build(self) -> Pipeline {
        self.p
    }
}
