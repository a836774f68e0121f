//! Why one fuzz case failed.

use std::time::Duration;

/// Why a case failed. The input is reported beside it by [`Fuzz`](super::Fuzz).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CaseFailure {
    /// Something panicked during the case: the case itself, or a thread or task it started (a
    /// panic that tokio caught in a spawned task counts too).
    #[error("panicked{} on thread `{thread}` at {location}: {message}", more(*count))]
    Panicked {
        /// Name of the thread that panicked first.
        thread: String,
        /// File, line and column of the first panic.
        location: String,
        /// The first panic's message.
        message: String,
        /// How many panics the case saw.
        count: usize,
    },
    /// The case did not return within its time bound of real time. This is a hang guard, not
    /// a timing claim: the bound is far above what a working case takes. The case's thread
    /// is left running.
    #[error("did not return within {bound:?} of real time (hang guard); its thread is left running")]
    Hung {
        /// The time bound.
        bound: Duration,
    },
    /// The case asked the allocator for `bytes` at once, at or above its memory bound. The
    /// request was refused before the system allocator saw it and the asking thread parked.
    #[error("asked for {bytes} bytes in one allocation (bound {bound}); refused, the asking thread is parked")]
    AllocationRefused {
        /// The size asked for.
        bytes: usize,
        /// The memory bound.
        bound: usize,
    },
    /// The case's thread kept allocating until the live heap stood 4 × the memory bound above
    /// where it was when the case began; that thread was parked at the next allocation.
    #[error("the live heap grew past {grew} bytes (4 × the bound of {bound}); the allocating thread is parked")]
    RunawayHeap {
        /// Growth of the live heap the stopped allocation would have reached, in bytes.
        grew: usize,
        /// The memory bound.
        bound: usize,
    },
    /// The live heap grew by more than the memory bound while the case ran.
    #[error("the live heap grew by {grew} bytes during the case, above the bound of {bound}")]
    OverBudget {
        /// Peak growth of the live heap, in bytes.
        grew: usize,
        /// The memory bound.
        bound: usize,
    },
}

impl CaseFailure {
    /// True when the failed case left a thread behind (hung, or parked by the allocator): later
    /// cases of the same property are not run, since that thread may hold locks or use a core.
    #[must_use]
    pub fn leaves_thread_behind(&self) -> bool {
        matches!(self, Self::Hung { .. } | Self::AllocationRefused { .. } | Self::RunawayHeap { .. })
    }
}

fn more(count: usize) -> String {
    if count > 1 {
        format!(" ({count} times)")
    } else {
        String::new()
    }
}
