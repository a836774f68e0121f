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
mod error;
mod fixed;
mod gradient2;
mod min_filter;
mod restore;
mod sample;
mod vegas;

pub use aimd::{Aimd, AimdConfig};
pub use error::LimitConfigError;
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

impl Limit for Box<dyn Limit> {
    fn limit(&self) -> usize {
        (**self).limit()
    }
    fn update(&mut self, sample: &Sample) -> usize {
        (**self).update(sample)
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
}

/// log10 of the limit, at least 1: the step Vegas and Gradient2 use so that large limits move
/// by more than one per window.
pub(crate) fn log10_step(limit: f64) -> f64 {
    limit.max(1.0).log10().max(1.0)
}

pub(crate) fn check_bounds(initial: usize, min: usize, max: usize) -> Result<(), LimitConfigError> {
    if min == 0 {
        return Err(LimitConfigError::Zero("min_limit"));
    }
    if min > max {
        return Err(LimitConfigError::Inverted { min, max });
    }
    if initial < min || initial > max {
        return Err(LimitConfigError::InitialOutOfRange { initial, min, max });
    }
    Ok(())
}

pub(crate) fn check_ratio(name: &'static str, v: f64, lo: f64, hi: f64) -> Result<(), LimitConfigError> {
    if !v.is_finite() || v < lo || v > hi {
        return Err(LimitConfigError::OutOfRange { name, value: v, lo, hi });
    }
    Ok(())
}
