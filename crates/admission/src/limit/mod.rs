//! Concurrency-limit algorithms: pure state machines that take one aggregated [`Sample`] per
//! control window and return the new limit. They never read a clock: the sample carries the
//! time, so they are tested deterministically and with proptest.
//!
//! | algorithm | signal | source |
//! |---|---|---|
//! | [`FixedLimit`] | none (hand-tuned) | — |
//! | [`Aimd`] | drops and RTT above a timeout | TCP Reno; Netflix `AIMDLimit` |
//! | [`Vegas`] | queue estimate `limit × (1 − rtt_min / rtt)` | TCP Vegas; Netflix `VegasLimit` |
//! | [`Gradient2`] | long-term RTT / short-term RTT | Netflix `Gradient2Limit` |

mod aimd;
mod boxed;
mod check;
mod fixed;
mod gradient2;
mod min_filter;
mod restore;
mod sample;
mod vegas;

pub use aimd::{Aimd, AimdConfig};
pub use fixed::FixedLimit;
pub use gradient2::{Gradient2, Gradient2Config};
pub use sample::Sample;
pub use vegas::{Vegas, VegasConfig};

/// An adaptive (or fixed) concurrency limit: sample in, new limit out.
///
/// Implementations are pure: all time comes from the [`Sample`].
pub trait Limit: Send + Sync + std::fmt::Debug + 'static {
    /// The current limit (at least 1).
    fn limit(&self) -> usize;
    /// Feeds one control window's aggregate and returns the new limit.
    fn update(&mut self, sample: &Sample) -> usize;
    /// A short name for tables and metrics (`vegas`, `gradient2`, ...).
    fn name(&self) -> &'static str;
}
