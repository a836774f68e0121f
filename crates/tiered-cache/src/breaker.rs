//! The breaker in front of L2.
//!
//! A small internal seam: the cache asks for a permit, then reports success or failure.
//! Consecutive failures open it; after `open_for` one probe is let through (half-open); a
//! successful probe closes it.

use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

/// Proof that a call was admitted; handed back with its outcome.
#[derive(Debug)]
pub(crate) struct Permit {
    probe: bool,
}

#[derive(Debug)]
pub(crate) struct L2Breaker {
    state: Mutex<State>,
    threshold: u32,
    open_for: Duration,
}

impl L2Breaker {
    pub(crate) fn new(threshold: u32, open_for: Duration) -> Self {
        L2Breaker { state: Mutex::new(State::Closed { failures: 0 }), threshold: threshold.max(1), open_for }
    }

    pub(crate) fn try_acquire(&self) -> Option<Permit> {
        let mut s = self.state.lock();
        match *s {
            State::Closed { .. } => Some(Permit { probe: false }),
            State::Open { until } if Instant::now() >= until => {
                *s = State::HalfOpen;
                Some(Permit { probe: true })
            }
            State::Open { .. } | State::HalfOpen => None,
        }
    }

    /// Records a success; `true` when this closed a breaker that was not closed.
    pub(crate) fn success(&self, permit: Permit) -> bool {
        let mut s = self.state.lock();
        let was_closed = matches!(*s, State::Closed { .. });
        if permit.probe || was_closed {
            *s = State::Closed { failures: 0 };
        }
        permit.probe && !was_closed
    }

    /// Records a failure; `true` when this opened the breaker.
    pub(crate) fn failure(&self, permit: Permit) -> bool {
        let mut s = self.state.lock();
        match *s {
            State::Closed { failures } if failures + 1 >= self.threshold => {
                *s = State::Open { until: Instant::now() + self.open_for };
                true
            }
            State::Closed { failures } => {
                *s = State::Closed { failures: failures + 1 };
                false
            }
            State::HalfOpen if permit.probe => {
                *s = State::Open { until: Instant::now() + self.open_for };
                false
            }
            _ => false,
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        !matches!(*self.state.lock(), State::Closed { .. })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_after_threshold_then_one_probe_closes_it() {
        let b = L2Breaker::new(3, Duration::from_millis(500));
        for i in 0..3 {
            let p = b.try_acquire().unwrap();
            assert_eq!(b.failure(p), i == 2);
        }
        assert!(b.is_open());
        assert!(b.try_acquire().is_none());
        tokio::time::advance(Duration::from_millis(500)).await;
        let probe = b.try_acquire().unwrap();
        assert!(b.try_acquire().is_none(), "exactly one probe while half-open");
        assert!(b.success(probe));
        assert!(!b.is_open());
    }
}
