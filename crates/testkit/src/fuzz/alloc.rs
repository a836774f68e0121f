//! [`BoundedAlloc`]: a counting global allocator that stops absurd requests before the system
//! allocator sees them (decision 0005).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::echo;

/// The memory bound of a case unless it sets its own: 256 MiB.
pub(crate) const DEFAULT_BOUND: usize = 256 << 20;
/// A case thread whose live-heap growth would pass this multiple of the bound is stopped.
const RUNAWAY_FACTOR: usize = 4;
/// Live bytes of the whole process above which the allocator aborts, as a multiple of the bound
/// (at least [`MIN_CEILING`]): the last line of defence for the machine, against threads the
/// harness cannot attribute to a case (a multi-threaded runtime's workers).
const CEILING_FACTOR: usize = 8;
const MIN_CEILING: usize = 2 << 30;

static INSTALLED: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static BOUND: AtomicUsize = AtomicUsize::new(DEFAULT_BOUND);
/// The running case (0: none) and the live bytes when it began.
static CURRENT_CASE: AtomicU64 = AtomicU64::new(0);
static NEXT_CASE: AtomicU64 = AtomicU64::new(1);
static BASELINE: AtomicUsize = AtomicUsize::new(0);
/// Requests stopped (refused, or a runaway case thread parked) and what the last one was.
static STOPS: AtomicU64 = AtomicU64::new(0);
static LAST_STOP_BYTES: AtomicUsize = AtomicUsize::new(0);
static LAST_STOP_RUNAWAY: AtomicBool = AtomicBool::new(false);

thread_local! {
    // The case a case thread runs (0 on every other thread). Const-initialised and without a
    // destructor, so reading it from the allocator neither allocates nor fails.
    static CASE_OF_THREAD: Cell<u64> = const { Cell::new(0) };
}

/// The global allocator of a fuzz test binary: the system allocator, plus a count of live heap
/// bytes so the harness can bound what one case allocates.
///
/// Install it in the test binary (not in a library):
///
/// ```
/// use perfstack_testkit::fuzz::BoundedAlloc;
///
/// #[global_allocator]
/// static ALLOC: BoundedAlloc = BoundedAlloc::new();
/// # fn main() { assert!(BoundedAlloc::is_installed()); }
/// ```
///
/// What it does with a request of `n` bytes, where `bound` is the running case's memory bound
/// (256 MiB by default):
///
/// - `n < bound`: passed to the system allocator and counted. A case whose live bytes grow by
///   more than `bound` is failed by the harness *after* it returns (moderate overshoots are let
///   through, so the case finishes and reports cleanly).
/// - `n ≥ bound`: an absurd request (a window of `u32::MAX` buckets, a capacity of
///   `usize::MAX`). It never reaches the system allocator: it is recorded and the requesting
///   thread is parked for good (it sleeps; it is leaked). The harness sees the record and fails
///   the case with the size. Parking rather than returning null keeps the test binary alive:
///   null makes Rust abort the whole process (`handle_alloc_error`), losing every other result.
/// - the case's own thread taking the live heap more than 4 × `bound` above where it was when
///   the case began: recorded, and the thread parked (a runaway loop of small allocations).
/// - a case thread the harness gave up on (hung) that allocates again: parked, so a runaway
///   case stops growing the heap once it is abandoned.
/// - live bytes of the process above 8 × `bound` (at least 2 GiB): the process is aborted after
///   the current case's input is written to stderr. This protects the machine from threads
///   the harness cannot attribute to a case (the workers of a multi-threaded runtime).
///
/// Everything else in the binary shares the allocator and its counts, so a fuzz binary should
/// hold fuzz tests only.
#[derive(Debug, Default, Clone, Copy)]
pub struct BoundedAlloc {
    _private: (),
}

impl BoundedAlloc {
    /// The allocator, for a `#[global_allocator]` static.
    #[must_use]
    pub const fn new() -> Self {
        Self { _private: () }
    }

    /// Whether this allocator serves the process (it has seen an allocation).
    #[must_use]
    pub fn is_installed() -> bool {
        // Allocate once so that an installed allocator has certainly seen a request.
        drop(std::hint::black_box(Box::new(0_u64)));
        INSTALLED.load(Ordering::Relaxed)
    }

    /// Heap bytes allocated and not yet freed, in the whole process.
    #[must_use]
    pub fn live_bytes() -> usize {
        LIVE.load(Ordering::Relaxed)
    }
}

#[allow(unsafe_code)]
// SAFETY: every method hands the caller's layout and pointer unchanged to `System`, which
// upholds the `GlobalAlloc` contract, and returns what `System` returned, so the contract
// carries over. The bookkeeping around it only touches atomics and never allocates or unwinds
// (unwinding out of an allocator is undefined behaviour); a refused request never returns (its
// thread sleeps forever), so no pointer that `System` did not produce is ever handed out.
unsafe impl GlobalAlloc for BoundedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        admit(layout.size(), layout.size());
        // SAFETY: the caller guarantees `layout` has a non-zero size, as `System` requires.
        let ptr = unsafe { System.alloc(layout) };
        settle(ptr, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        admit(layout.size(), layout.size());
        // SAFETY: as in `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        settle(ptr, layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: every block of the process came from `System` through this allocator, and the
        // caller guarantees `ptr` is such a block allocated with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        admit(new_size, new_size.saturating_sub(layout.size()));
        // SAFETY: the caller's guarantees for `realloc` (a block of ours with `layout`, a valid
        // non-zero `new_size`) are exactly what `System.realloc` requires.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if new.is_null() {
            // The old block is untouched and still counted.
            out_of_memory(new_size);
        } else {
            count(new_size);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        new
    }
}

/// Checks a request of `request` bytes that grows the live heap by `growth`.
#[inline]
fn admit(request: usize, growth: usize) {
    if !INSTALLED.load(Ordering::Relaxed) {
        INSTALLED.store(true, Ordering::Relaxed);
    }
    let case = CASE_OF_THREAD.try_with(Cell::get).unwrap_or(0);
    let current = CURRENT_CASE.load(Ordering::Relaxed);
    if case != 0 && case != current {
        park();
    }
    let bound = BOUND.load(Ordering::Relaxed);
    if request >= bound {
        stop(request, false);
    }
    let live = LIVE.load(Ordering::Relaxed).saturating_add(growth);
    if case != 0 {
        let grew = live.saturating_sub(BASELINE.load(Ordering::Relaxed));
        if grew > bound.saturating_mul(RUNAWAY_FACTOR) {
            stop(grew, true);
        }
    }
    if live > bound.saturating_mul(CEILING_FACTOR).max(MIN_CEILING) {
        abort_over_ceiling(live);
    }
}

#[inline]
fn settle(ptr: *mut u8, size: usize) -> *mut u8 {
    if ptr.is_null() {
        out_of_memory(size);
    } else {
        count(size);
    }
    ptr
}

#[inline]
fn count(size: usize) {
    let now = LIVE.fetch_add(size, Ordering::Relaxed).wrapping_add(size);
    PEAK.fetch_max(now, Ordering::Relaxed);
}

/// Records a stopped request (an absurd size, or a runaway case thread) and parks its thread.
#[cold]
fn stop(bytes: usize, runaway: bool) -> ! {
    LAST_STOP_BYTES.store(bytes, Ordering::Relaxed);
    LAST_STOP_RUNAWAY.store(runaway, Ordering::Relaxed);
    STOPS.fetch_add(1, Ordering::SeqCst);
    park()
}

/// Parks the calling thread for good.
#[cold]
fn park() -> ! {
    loop {
        // `sleep` is a system call: it allocates nothing.
        std::thread::sleep(Duration::from_secs(3600));
    }
}

#[cold]
fn abort_over_ceiling(live: usize) -> ! {
    say(b"live heap above the hard ceiling (", live, b" bytes); aborting. The last case was:\n");
    std::process::abort();
}

/// The system allocator returned null: say which case asked, since the process is likely to
/// abort next (unless the caller used a fallible API such as `try_reserve`).
#[cold]
fn out_of_memory(size: usize) {
    say(b"the system allocator refused ", size, b" bytes. The last case was:\n");
}

/// Writes `before`, `n`, `after` and the current case label to stderr without allocating.
fn say(before: &[u8], n: usize, after: &[u8]) {
    let mut digits = [0_u8; 20];
    let mut label = [0_u8; echo::LABEL_CAP];
    let label_len = echo::copy_label(&mut label);
    let mut err = std::io::stderr();
    let _ = err.write_all(b"perfstack-testkit BoundedAlloc: ");
    let _ = err.write_all(before);
    let _ = err.write_all(decimal(n, &mut digits));
    let _ = err.write_all(after);
    let _ = err.write_all(&label[..label_len]);
    let _ = err.write_all(b"\n");
}

fn decimal(mut n: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// A request the allocator stopped during a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// One request of this many bytes, at or above the bound.
    Request(usize),
    /// The case thread's live-heap growth would have reached this many bytes.
    Runaway(usize),
}

/// What the allocator counted while one case ran.
#[derive(Debug)]
pub(crate) struct Usage {
    case: u64,
    baseline: usize,
    stops: u64,
}

impl Usage {
    /// Starts counting for a case with memory bound `bound` (cases never overlap).
    pub(crate) fn begin(bound: usize) -> Self {
        BOUND.store(bound.max(1), Ordering::SeqCst);
        let baseline = LIVE.load(Ordering::SeqCst);
        BASELINE.store(baseline, Ordering::SeqCst);
        PEAK.store(baseline, Ordering::SeqCst);
        let case = NEXT_CASE.fetch_add(1, Ordering::SeqCst);
        CURRENT_CASE.store(case, Ordering::SeqCst);
        Self { case, baseline, stops: STOPS.load(Ordering::SeqCst) }
    }

    /// Marks the calling thread as this case's thread.
    pub(crate) fn adopt_thread(case: u64) {
        CASE_OF_THREAD.with(|c| c.set(case));
    }

    /// The case's id, for [`adopt_thread`](Self::adopt_thread).
    pub(crate) fn case(&self) -> u64 {
        self.case
    }

    /// A request stopped since the case began, if any.
    pub(crate) fn stopped(&self) -> Option<Stopped> {
        if STOPS.load(Ordering::SeqCst) == self.stops {
            return None;
        }
        let bytes = LAST_STOP_BYTES.load(Ordering::Relaxed);
        Some(if LAST_STOP_RUNAWAY.load(Ordering::Relaxed) { Stopped::Runaway(bytes) } else { Stopped::Request(bytes) })
    }

    /// How far the live heap rose above its level at the start of the case.
    pub(crate) fn peak_growth(&self) -> usize {
        PEAK.load(Ordering::SeqCst).saturating_sub(self.baseline)
    }

    /// Ends the case: its thread, if still running, is parked at its next allocation.
    pub(crate) fn end(self) {
        CURRENT_CASE.store(0, Ordering::SeqCst);
        BOUND.store(DEFAULT_BOUND, Ordering::SeqCst);
    }
}
