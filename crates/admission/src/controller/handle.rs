//! [`AdmissionController`]: the cheap handle every caller holds, and what it reports. The
//! admission itself (`try_acquire`, `acquire`...) is in `decision.rs`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::inner::Inner;
use super::{AdmissionControllerBuilder, AdmissionStats};

/// Decides, before any work is done, whether a request may run.
///
/// A cheap `Arc` handle: every clone enforces the same limits.
///
/// # Examples
///
/// ```
/// use perfstack_admission::{AdmissionController, Priority, RequestMeta, RejectReason};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let ctl = AdmissionController::builder().fixed_limit(2).build()?;
/// let a = ctl.try_acquire(&RequestMeta::new(Priority::Critical))?;
/// let b = ctl.try_acquire(&RequestMeta::new(Priority::Critical))?;
/// let err = ctl.try_acquire(&RequestMeta::new(Priority::Critical)).unwrap_err();
/// assert_eq!(err.reason, RejectReason::Concurrency);
/// drop(a); // the work ended: the slot is free again
/// let _c = ctl.try_acquire(&RequestMeta::new(Priority::Critical))?;
/// # drop(b); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AdmissionController {
    pub(super) inner: Arc<Inner>,
}

impl AdmissionController {
    /// A builder with the defaults: a [`Vegas`](crate::limit::Vegas) limit, default priority
    /// reserves, no rate limit, no queue.
    pub fn builder() -> AdmissionControllerBuilder {
        AdmissionControllerBuilder::default()
    }

    /// True when a distributed rate limit must be asked (I/O) before admitting.
    #[cfg(feature = "tower")]
    pub(crate) fn has_store(&self) -> bool {
        self.inner.store.is_some()
    }

    /// True when admission is decided at once: no distributed rate limit to ask, and no queue
    /// to wait in (none configured, or `queue` is false: the caller will not wait).
    #[cfg(feature = "tower")]
    pub(crate) fn never_waits(&self, queue: bool) -> bool {
        self.inner.store.is_none() && (!queue || self.inner.queue_timeout.is_zero())
    }

    /// The current concurrency limit.
    #[must_use]
    pub fn limit(&self) -> usize {
        self.inner.limit_now.load(Ordering::Relaxed)
    }

    /// Requests in flight now.
    #[must_use]
    pub fn inflight(&self) -> usize {
        self.inner.inflight()
    }

    /// Reads the overload signals now and returns how many priority levels are shed. They are
    /// also read at every window close, and by an admission (a refused one of a shed level, or
    /// a sampled one) when the last reading is a shortest window (`window` `min`) old.
    pub fn refresh_overload(&self) -> usize {
        self.inner.refresh_overload()
    }

    /// A snapshot for dashboards and tests.
    #[must_use]
    pub fn stats(&self) -> AdmissionStats {
        AdmissionStats::of(&self.inner)
    }
}
