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
mod signal;

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
