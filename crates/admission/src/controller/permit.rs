//! [`Permit`] and [`PermitRef`]: the right to run one request, released on drop.

use std::sync::Arc;

use super::inner::{Inner, Released};
use super::{spare, AdmissionController};
use crate::Priority;

/// What became of an admitted request, reported to the adaptive limit when the permit drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outcome {
    /// It completed; its latency is a sample (the default).
    #[default]
    Success,
    /// It timed out or the downstream was overloaded: the limit should back off.
    Dropped,
    /// Not a signal about capacity (a client error, a cache hit): no sample.
    Ignore,
}

/// The right to run one request. Hold it while the work runs; dropping it frees the slot and
/// reports the outcome and latency to the adaptive limit. Cheap: no allocation, and no change
/// to the controller's reference count in steady state when the permit drops on the thread that
/// took it (a dropped permit leaves its reference as this thread's spare for the next permit of
/// the same controller; a controller dropped by its last handle is then freed once another
/// controller's permit replaces that spare, or the thread exits). A permit dropped on another
/// thread (a work-stealing tokio worker) costs the two reference-count operations of a plain
/// `Arc` clone. A controller with an overload signal or a rate-limit store keeps no spare, so
/// its probe tasks and connections stop when its last handle and permit drop.
#[derive(Debug)]
#[must_use = "the slot is released as soon as the permit is dropped"]
pub struct Permit {
    /// `None` only inside `drop`, which hands the reference to this thread's spare.
    pub(crate) inner: Option<Arc<Inner>>,
    /// What the release reports, kept whole and passed by reference: rebuilding it from
    /// separate fields at drop read them back with one wide load right after narrow stores (a
    /// store-forwarding stall that cost the owned permit ~9 ns over a `PermitRef`).
    pub(crate) released: Released,
    pub(crate) priority: Priority,
    pub(crate) armed: bool,
}

impl Permit {
    /// The request's priority.
    #[must_use]
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// Sets what the limit will be told when the permit drops.
    pub fn set_outcome(&mut self, outcome: Outcome) {
        self.released.outcome = outcome;
    }

    /// Marks the request as dropped (timed out, overloaded downstream).
    pub fn dropped(&mut self) {
        self.released.outcome = Outcome::Dropped;
    }

    /// Marks the request as carrying no capacity signal.
    pub fn ignore(&mut self) {
        self.released.outcome = Outcome::Ignore;
    }
}

impl Drop for Permit {
    #[inline]
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else { return };
        if self.armed {
            Inner::release(&inner, &self.released);
        }
        // No reference-count decrement (if the controller keeps a spare): the next owned permit
        // on this thread takes it back.
        spare::keep(inner);
    }
}

/// A [`Permit`] that borrows its controller instead of holding an `Arc`, for work that finishes
/// while the controller is borrowed (inside one handler). It skips the thread-local hand-over
/// that spares an owned permit the `Arc`'s reference count.
/// From [`AdmissionController::try_acquire_ref`].
#[derive(Debug)]
#[must_use = "the slot is released as soon as the permit is dropped"]
pub struct PermitRef<'a> {
    pub(crate) controller: &'a AdmissionController,
    pub(crate) priority: Priority,
    pub(crate) released: Released,
}

impl PermitRef<'_> {
    /// The request's priority.
    #[must_use]
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// Sets what the limit will be told when the permit drops.
    pub fn set_outcome(&mut self, outcome: Outcome) {
        self.released.outcome = outcome;
    }

    /// Marks the request as dropped (timed out, overloaded downstream).
    pub fn dropped(&mut self) {
        self.released.outcome = Outcome::Dropped;
    }
}

impl Drop for PermitRef<'_> {
    #[inline]
    fn drop(&mut self) {
        Inner::release(&self.controller.inner, &self.released);
    }
}
