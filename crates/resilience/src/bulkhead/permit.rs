//! A slot in the bulkhead, freed on drop.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::handle::Inner;

/// A slot in the bulkhead, freed on drop.
#[derive(Debug)]
#[must_use = "the slot is freed when the permit is dropped"]
pub struct BulkheadPermit {
    inner: Arc<Inner>,
}

impl BulkheadPermit {
    #[inline]
    pub(super) fn new(inner: Arc<Inner>) -> Self {
        Self { inner }
    }
}

impl Drop for BulkheadPermit {
    #[inline]
    fn drop(&mut self) {
        self.inner.in_flight.fetch_sub(1, Ordering::AcqRel);
        if self.inner.waiting.load(Ordering::Acquire) > 0 {
            self.inner.freed.notify_one();
        }
    }
}
