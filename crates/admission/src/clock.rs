//! Time sources. Library code reads time only through [`Clock`], so tests drive it by hand
//! ([`ManualClock`]) or with tokio's paused clock ([`TokioClock`], the default).
//!
//! These are `perfstack_resilience`'s clocks, re-exported: one clock type drives a
//! controller and a resilience policy alike.
//!
//! # Examples
//!
//! ```
//! use perfstack_admission::clock::{Clock, ManualClock};
//! use std::time::Duration;
//! let c = ManualClock::default();
//! c.advance(Duration::from_millis(5));
//! assert_eq!(c.now_nanos(), 5_000_000);
//! ```

use std::time::Duration;

#[doc(inline)]
pub use perfstack_resilience::{Clock, ManualClock, TokioClock, TscClock};

/// The clock's reading as a `Duration`, the unit of the controller's window and latency maths.
#[inline]
pub(crate) fn now(clock: &dyn Clock) -> Duration {
    Duration::from_nanos(clock.now_nanos())
}
