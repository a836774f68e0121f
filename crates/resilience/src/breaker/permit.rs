//! Permits: the right to make one call, carrying the generation it was granted in.

use std::sync::Arc;

use super::core::{Inner, Outcome, PermitCore};

/// Permission for one call, borrowed from the breaker. Report how the call went with
/// [`success`](Self::success), [`failure`](Self::failure) or [`record`](Self::record).
///
/// A permit dropped without an outcome records nothing and frees its half-open probe slot.
/// An outcome reported after the breaker changed state (another generation) is ignored, so a
/// call that started before the breaker opened can never close it.
#[must_use = "report the call's outcome with success(), failure() or record()"]
#[derive(Debug)]
pub struct Permit<'a> {
    pub(crate) inner: &'a Inner,
    pub(crate) core: PermitCore,
    pub(crate) done: bool,
}

impl Permit<'_> {
    /// The call succeeded.
    #[inline]
    pub fn success(self) {
        self.record(Outcome::Success);
    }

    /// The call failed.
    #[inline]
    pub fn failure(self) {
        self.record(Outcome::Failure);
    }

    /// Reports `outcome`.
    #[inline]
    pub fn record(mut self, outcome: Outcome) {
        self.done = true;
        self.inner.finish(self.core, Some(outcome));
    }

    /// The breaker generation this permit was granted in.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.core.generation
    }
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        if !self.done {
            self.inner.finish(self.core, None);
        }
    }
}

/// A [`Permit`] that owns a handle to its breaker, for futures that outlive a borrow (tower
/// services).
#[must_use = "report the call's outcome with success(), failure() or record()"]
#[derive(Debug)]
pub struct OwnedPermit {
    pub(crate) inner: Arc<Inner>,
    pub(crate) core: PermitCore,
    pub(crate) done: bool,
}

impl OwnedPermit {
    /// The call succeeded.
    pub fn success(self) {
        self.record(Outcome::Success);
    }

    /// The call failed.
    pub fn failure(self) {
        self.record(Outcome::Failure);
    }

    /// Reports `outcome`.
    pub fn record(mut self, outcome: Outcome) {
        self.done = true;
        self.inner.finish(self.core, Some(outcome));
    }

    /// The breaker generation this permit was granted in.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.core.generation
    }
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        if !self.done {
            self.inner.finish(self.core, None);
        }
    }
}
