//! Every L2 call goes through here: a timeout and a circuit breaker. Failures are counted and
//! turned into "no answer", so Redis trouble never reaches the cache's callers.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::{Deadlines, L2Breaker, Tier};
use crate::error::TierError;
use crate::stats::Counters;

/// What happened to an L2 call.
#[derive(Debug)]
pub(crate) enum Guarded<T> {
    /// The call succeeded.
    Done(T),
    /// The breaker was open, the call timed out or failed (already counted).
    Unavailable,
    /// The store answered, but holds something under the key that is not a cache entry
    /// ([`TierError::Corrupt`], already counted as corrupt). The breaker recorded a success:
    /// one bad key is not an outage.
    Corrupt,
}

/// What runs when the breaker closes after an outage (the cache flushes L1).
pub(crate) type OnClose = Box<dyn Fn() + Send + Sync>;

pub(crate) struct L2Guard {
    pub(crate) tier: Arc<dyn Tier>,
    pub(crate) breaker: L2Breaker,
    pub(crate) timeout: Duration,
    /// Enforces `timeout` (coarsely: up to a quarter late) without a timer per call.
    pub(crate) deadlines: Arc<Deadlines>,
    pub(crate) counters: Arc<Counters>,
    /// Set once by the builder. Run by [`L2Guard::call`] itself on the close transition, so no
    /// call site can forget it: whichever call happens to be the closing probe (a read, a lease,
    /// a prefix invalidation, warming), L1 is flushed.
    pub(crate) on_close: OnceLock<OnClose>,
}

impl std::fmt::Debug for L2Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L2Guard").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl L2Guard {
    /// Runs one L2 call. When this call is the probe that closes the breaker after an outage,
    /// the `on_close` hook runs (the cache flushes L1, which may hold entries from the outage)
    /// before the result is returned.
    pub(crate) async fn call<'a, T, F, Fut>(&'a self, what: &'static str, f: F) -> Guarded<T>
    where
        F: FnOnce(&'a dyn Tier) -> Fut,
        Fut: Future<Output = Result<T, TierError>> + 'a,
    {
        let Some(permit) = self.breaker.try_acquire() else {
            self.counters.l2_skipped.add();
            return Guarded::Unavailable;
        };
        let result = match self.deadlines.within(f(self.tier.as_ref())).await {
            Some(r) => r,
            None => Err(TierError::Timeout),
        };
        match result {
            Ok(v) => {
                self.answered(permit);
                Guarded::Done(v)
            }
            Err(TierError::Corrupt(detail)) => {
                self.answered(permit);
                self.counters.l2_corrupt.add();
                tracing::debug!(error = %detail, call = what, "L2 entry is not a cache entry");
                Guarded::Corrupt
            }
            Err(e) => {
                self.counters.l2_error.add();
                tracing::debug!(error = %e, call = what, "L2 call failed");
                if self.breaker.failure(permit) {
                    self.counters.breaker_open(true);
                    tracing::warn!(error = %e, "L2 circuit breaker opened; serving from L1 and the loader");
                }
                Guarded::Unavailable
            }
        }
    }

    /// The server answered: a breaker success, and the close hook if this closed it.
    fn answered(&self, permit: super::breaker::Permit<'_>) {
        if self.breaker.success(permit) {
            self.counters.breaker_open(false);
            tracing::info!("L2 circuit breaker closed; flushing L1");
            if let Some(hook) = self.on_close.get() {
                hook();
            }
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        self.breaker.is_open()
    }
}
