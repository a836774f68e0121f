#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod clock;
mod controller;
mod error;
pub mod limit;
pub mod overload;
pub mod rate;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "sim")]
pub mod sim;
#[cfg(feature = "tower")]
pub mod tower;

pub use controller::{
    AdmissionController, AdmissionControllerBuilder, AdmissionStats, Outcome, Permit, PermitRef, PriorityShares,
    PriorityStats, QueueOrder, RejectReason, Rejected, RequestMeta,
};
pub use error::ConfigError;
pub use overload::OverloadSignal;
/// The five priority levels shared with the task queue (`Low`..`Critical`).
#[doc(inline)]
pub use perfstack_resilience::Priority;
