//! Overload signals: cheap readings of process CPU, memory (RSS) and tokio scheduling delay
//! that tighten admission when a host is overloaded by something a latency-based limit does
//! not see (a noisy neighbour, a memory leak, a blocked runtime).
//!
//! A signal reports a *pressure*: below 1 is fine; at 1 the controller sheds `Low`, and one more
//! level for every 10 % above (see [`AdmissionControllerBuilder::overload_signal`](crate::AdmissionControllerBuilder::overload_signal)).
//! Signals are read at most once per shortest window (`window` `min`), on one schedule shared
//! by every path that reads them: when a control window closes, and by an admission (a
//! sampled one, or a refused one of a shed level) once the last reading is that old. So an
//! unlucky request may pay for one reading: the signals here allocate nothing (`/proc` is read
//! into a stack buffer), at the cost of a few system calls.

mod cpu;
mod manual;
mod memory;
mod procfs;
mod scheduler;

pub use cpu::ProcessCpu;
pub use manual::ManualPressure;
pub use memory::ResidentMemory;
pub use scheduler::SchedulerDelay;

/// A source of overload pressure. Read on the request path at most once per shortest window,
/// and possibly by several controllers (through an `Arc`) close together: a reading should
/// be cheap, and one taken soon after another should return the same pressure, not reset it.
pub trait OverloadSignal: Send + Sync + std::fmt::Debug + 'static {
    /// Current pressure: `< 1` fine, `≥ 1` overloaded, `+∞` fully overloaded. NaN is
    /// ignored; a negative pressure counts as 0.
    fn pressure(&self) -> f64;
    /// Short name for logs.
    fn name(&self) -> &'static str;
}

impl<S: OverloadSignal + ?Sized> OverloadSignal for std::sync::Arc<S> {
    fn pressure(&self) -> f64 {
        (**self).pressure()
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
}

/// A [`SchedulerDelay`] that cannot start, refused by [`SchedulerDelay::spawn`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SignalConfigError {
    /// The threshold or the interval is zero.
    #[error(transparent)]
    Threshold(#[from] ThresholdError),
    /// The probe interval is above one minute.
    #[error("scheduler probe interval {interval:?} is above the maximum {max:?}")]
    IntervalTooLong {
        /// The interval given.
        interval: std::time::Duration,
        /// The longest accepted.
        max: std::time::Duration,
    },
    /// The probe task needs a tokio runtime, and there was none.
    #[error("must be created inside a tokio runtime")]
    NoRuntime,
}

/// A threshold that must be a finite number above zero.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{name} threshold {value} must be a finite number above zero")]
pub struct ThresholdError {
    /// The signal.
    pub name: &'static str,
    /// The value given.
    pub value: f64,
}

pub(crate) fn check_threshold(name: &'static str, value: f64) -> Result<f64, ThresholdError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(ThresholdError { name, value })
    }
}
