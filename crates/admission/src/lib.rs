//! Admission control: decide, before any work is done, whether a request may run.
//!
//! - [`AdmissionController`]: one cheap call, [`try_acquire`](AdmissionController::try_acquire)
//!   (now or never) or [`acquire`](AdmissionController::acquire) (may wait in a bounded priority
//!   queue until its deadline), combining a rate limit, a keyed rate limit, a concurrency limit
//!   with per-priority reserves, and overload signals. A [`Permit`] (or a borrowed
//!   [`PermitRef`]) reports outcome and latency to the adaptive limit when it drops; a
//!   [`Rejected`] says why and when to retry. The admitted path is a few atomic operations and
//!   never allocates.
//! - [`limit`]: AIMD, Vegas and Gradient2 as pure, clock-free algorithms (sample in, limit out).
//! - [`rate`]: GCRA rate limits, direct and keyed (bounded keys), with `peek`.
//! - [`overload`]: process CPU, RSS and tokio scheduling delay behind [`OverloadSignal`].
//! - [`sim`]: the deterministic open-loop overload simulation behind the crate's figures (and,
//!   on the real clock, the same run as a bounded real-time load).
//!
//! # Quick start
//!
//! ```
//! use perfstack_admission::{AdmissionController, Priority, RequestMeta};
//! use perfstack_admission::limit::{Gradient2, Gradient2Config};
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ctl = AdmissionController::builder()
//!     .name("api")
//!     .try_limit(Gradient2::new(Gradient2Config::default()))
//!     .queue(64, std::time::Duration::from_millis(50))
//!     .build()?;
//! match ctl.acquire(&RequestMeta::new(Priority::High)).await {
//!     Ok(permit) => { /* do the work; dropping the permit reports its latency */ drop(permit) }
//!     Err(rejected) => { /* answer 429/503 with rejected.retry_after */ let _ = rejected; }
//! }
//! # Ok(()) }
//! ```
//!
//! # Feature flags
//!
//! - `tower`: `tower::AdmissionLayer` for tower/axum services (429/503 with `Retry-After`,
//!   priority from a header).
//! - `redis`: `redis::RedisRateLimit`, a GCRA shared by many instances through one Redis
//!   script (`EVALSHA`, server time, fail open or closed, local pre-check, leases).
//!
//! # Metrics
//!
//! - `perfstack_admission_rejected_total{controller, reason, priority}` (counter)
//! - `perfstack_admission_limit{controller}`, `perfstack_admission_inflight{controller}` (gauges,
//!   updated when a control window closes)
//! - `perfstack_admission_rtt_seconds{controller}` (histogram of window mean latency)
//! - `perfstack_admission_overload_shed_levels{controller}` (gauge)
//! - `perfstack_admission_redis_errors_total{policy}`,
//!   `perfstack_admission_redis_short_circuits_total{policy}` (counters, feature `redis`)

pub mod clock;
mod controller;
mod error;
pub mod limit;
pub mod overload;
pub mod rate;
#[cfg(feature = "redis")]
pub mod redis;
pub mod sim;
#[cfg(feature = "tower")]
pub mod tower;

pub use controller::{
    AdmissionController, AdmissionControllerBuilder, AdmissionStats, Outcome, Permit, PermitRef, PriorityShares,
    PriorityStats, QueueOrder, RejectReason, Rejected, RequestMeta,
};
pub use error::BuildError;
pub use overload::OverloadSignal;
/// The five priority levels shared with the task queue (`Low`..`Critical`).
#[doc(inline)]
pub use perfstack_resilience::Priority;
