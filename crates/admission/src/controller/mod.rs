//! The [`AdmissionController`]: rate limits, a concurrency limit with priority reserves,
//! overload signals and a deadline queue, checked in one call.
//!
//! A request's admission reads top to bottom in `decision.rs`; its end (the permit's drop,
//! the control window, the hand-off to a waiter) in `release.rs`.

mod builder;
mod decision;
mod error;
mod handle;
mod inner;
mod meta;
mod metrics;
mod permit;
mod queue;
mod release;
mod shares;
mod signals;
mod spare;
mod stats;
mod window;

#[cfg(test)]
mod tests;

pub use builder::AdmissionControllerBuilder;
pub use error::{RejectReason, Rejected};
pub use handle::AdmissionController;
pub use meta::RequestMeta;
pub use permit::{Outcome, Permit, PermitRef};
pub use queue::QueueOrder;
pub use shares::PriorityShares;
pub use stats::{AdmissionStats, PriorityStats};
