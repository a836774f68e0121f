//! The breaker in front of L2: a `perfstack_resilience::CircuitBreaker` (count window of the
//! last 10 calls, opens at a 50 % failure rate once `breaker_failures` calls were seen, one
//! half-open probe), plus the signal the cache needs: "the breaker just closed", so L1 — which
//! may hold values filled during the outage — is flushed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use perfstack_resilience::{CircuitBreaker, Permit as BreakerPermit, State};

#[derive(Debug)]
pub(crate) struct L2Breaker {
    cb: CircuitBreaker,
    just_closed: Arc<AtomicBool>,
}

/// Proof that a call was admitted; handed back with its outcome. Borrowed: no reference
/// count moves per call (an owned permit clones the breaker's `Arc`, a contended cache line).
pub(crate) type Permit<'a> = BreakerPermit<'a>;

impl L2Breaker {
    pub(crate) fn new(name: &str, min_failures: u32, open_for: Duration) -> Result<Self, String> {
        let just_closed = Arc::new(AtomicBool::new(false));
        let flag = just_closed.clone();
        let cb = CircuitBreaker::builder(format!("tiered_cache_{name}"))
            .count_window(10)
            .minimum_calls(min_failures.max(1))
            .failure_rate_threshold(50.0)
            .wait_in_open(open_for)
            .half_open_probes(1)
            .on_state_change(move |c| {
                if c.to == State::Closed && c.from != State::Closed {
                    flag.store(true, Ordering::Release);
                }
            })
            .build()
            .map_err(|e| e.to_string())?;
        Ok(L2Breaker { cb, just_closed })
    }

    pub(crate) fn try_acquire(&self) -> Option<Permit<'_>> {
        self.cb.try_acquire().ok()
    }

    /// Records a success; `true` when the breaker closed after an outage since last asked.
    pub(crate) fn success(&self, permit: Permit<'_>) -> bool {
        permit.success();
        self.just_closed.swap(false, Ordering::AcqRel)
    }

    /// Records a failure; `true` when the breaker is now open.
    pub(crate) fn failure(&self, permit: Permit<'_>) -> bool {
        permit.failure();
        self.is_open()
    }

    pub(crate) fn is_open(&self) -> bool {
        matches!(self.cb.state(), State::Open | State::HalfOpen | State::ForcedOpen)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_on_failures_then_one_probe_closes_it_and_reports_the_close_once() {
        let b = L2Breaker::new("t", 3, Duration::from_millis(500)).unwrap();
        for _ in 0..3 {
            let p = b.try_acquire().unwrap();
            b.failure(p);
        }
        assert!(b.is_open());
        assert!(b.try_acquire().is_none());
        tokio::time::advance(Duration::from_millis(500)).await;
        let probe = b.try_acquire().unwrap();
        assert!(b.try_acquire().is_none(), "exactly one probe while half-open");
        assert!(b.success(probe), "the close is reported");
        assert!(!b.is_open());
        assert!(!b.success(b.try_acquire().unwrap()), "only once");
    }
}
