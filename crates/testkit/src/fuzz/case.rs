//! One case under a time bound and a memory bound.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::alloc::{BoundedAlloc, Stopped, Usage, DEFAULT_BOUND};
use super::error::CaseFailure;
use super::panics;

/// Cases never overlap, in the whole process, so the allocator's counts belong to one case.
static ONE_CASE_AT_A_TIME: Mutex<()> = Mutex::new(());
/// How often the waiting harness looks for a refused allocation.
const POLL: Duration = Duration::from_millis(5);
/// Stack of a case's thread: debug builds of deep async code want more than the default 2 MiB.
const CASE_STACK: usize = 16 << 20;

/// The bounds of one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Bounds {
    /// Real time the case may take before it counts as hung (default 2 s).
    pub time: Duration,
    /// Growth of the live heap the case may cause, and the size at which one allocation is
    /// refused outright (default 256 MiB).
    pub memory: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Self { time: Duration::from_secs(2), memory: DEFAULT_BOUND }
    }
}

impl Bounds {
    /// Bounds of `time` and `memory` bytes.
    #[must_use]
    pub fn new(time: Duration, memory: usize) -> Self {
        Self { time, memory }
    }
}

/// Runs `case(input)` on a thread of its own named after `label`, and fails it on a panic (on
/// any thread during the case), a hang past `bounds.time`, one allocation of `bounds.memory`
/// bytes or more, or a live heap that grew by more than `bounds.memory` (a case thread that
/// takes it past 4 × `bounds.memory` is stopped there).
///
/// The time bound is a hang guard on real time (a separate thread and a channel with a
/// timeout), not a timing claim. A hung case thread cannot be killed: it is left behind, and
/// [`BoundedAlloc`] parks it at its next allocation. Cases run one at a time in the whole process (waiting for another case's turn does
/// not count against the bound).
///
/// # Errors
///
/// The [`CaseFailure`].
///
/// # Panics
///
/// When [`BoundedAlloc`] is not the global allocator (the memory bound could not be enforced),
/// or the case thread cannot be started.
pub fn run_case<I, F>(bounds: &Bounds, label: &str, input: I, case: F) -> Result<(), CaseFailure>
where
    I: Send + 'static,
    F: FnOnce(I) + Send + 'static,
{
    assert!(
        BoundedAlloc::is_installed(),
        "the fuzz harness needs `#[global_allocator] static ALLOC: perfstack_testkit::fuzz::BoundedAlloc = \
         perfstack_testkit::fuzz::BoundedAlloc::new();` in the test binary to enforce its memory bound"
    );
    panics::install();
    let _harness = panics::HarnessThread::enter();
    let _turn = ONE_CASE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let usage = Usage::begin(bounds.memory);
    panics::begin();
    let (tx, rx) = mpsc::channel();
    let case_id = usage.case();
    let spawned = std::thread::Builder::new().name(thread_name(label)).stack_size(CASE_STACK).spawn(move || {
        Usage::adopt_thread(case_id);
        let returned = std::panic::catch_unwind(AssertUnwindSafe(|| case(input)));
        let _ = tx.send(returned.is_ok());
    });
    let thread = match spawned {
        Ok(t) => t,
        Err(e) => {
            panics::end();
            usage.end();
            panic!("cannot start a fuzz case thread: {e}");
        }
    };
    let verdict = wait(&rx, &usage, bounds);
    if verdict.is_ok() {
        // It has sent its result: joining only waits for its thread-locals to be dropped.
        let _ = thread.join();
    }
    let panicked = panics::end();
    let grew = usage.peak_growth();
    let stopped = usage.stopped();
    usage.end();
    let returned = verdict?;
    if let Some(s) = stopped {
        return Err(stop_failure(s, bounds));
    }
    if let Some(p) = panicked {
        return Err(CaseFailure::Panicked {
            thread: p.thread,
            location: p.location,
            message: p.message,
            count: p.count,
        });
    }
    if !returned {
        return Err(CaseFailure::Panicked {
            thread: thread_name(label),
            location: "<unknown>".into(),
            message: "<the case unwound without the panic hook seeing it>".into(),
            count: 1,
        });
    }
    if grew > bounds.memory {
        return Err(CaseFailure::OverBudget { grew, bound: bounds.memory });
    }
    Ok(())
}

/// Waits for the case to report (whether it returned without unwinding), a refused
/// allocation, or the time bound.
fn wait(rx: &mpsc::Receiver<bool>, usage: &Usage, bounds: &Bounds) -> Result<bool, CaseFailure> {
    // Real time on purpose: the hang guard must not be fooled by a paused tokio clock.
    let start = std::time::Instant::now();
    loop {
        match rx.recv_timeout(POLL) {
            Ok(returned) => return Ok(returned),
            Err(RecvTimeoutError::Disconnected) => return Ok(false),
            Err(RecvTimeoutError::Timeout) => {
                if let Some(s) = usage.stopped() {
                    return Err(stop_failure(s, bounds));
                }
                if start.elapsed() >= bounds.time {
                    return Err(CaseFailure::Hung { bound: bounds.time });
                }
            }
        }
    }
}

fn stop_failure(s: Stopped, bounds: &Bounds) -> CaseFailure {
    match s {
        Stopped::Request(bytes) => CaseFailure::AllocationRefused { bytes, bound: bounds.memory },
        Stopped::Runaway(grew) => CaseFailure::RunawayHeap { grew, bound: bounds.memory },
    }
}

fn thread_name(label: &str) -> String {
    format!("fuzz {label}").replace('\0', "\\0")
}
