#![allow(clippy::unwrap_used, clippy::expect_used, unsafe_code)]
//! The outage hot paths allocate nothing: a refused call on an open breaker and a refused
//! budget withdrawal reuse metric handles resolved once (the counting allocator below counts
//! this thread's allocations only).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use metrics_util::debugging::DebuggingRecorder;
use perfstack_resilience::{CircuitBreaker, ManualClock, RetryBudget};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

#[test]
fn refusals_during_an_outage_do_not_allocate() {
    let recorder = DebuggingRecorder::new();
    metrics::with_local_recorder(&recorder, || {
        let clock = ManualClock::new();
        let b = CircuitBreaker::builder("orders")
            .count_window(4)
            .minimum_calls(4)
            .wait_in_open(Duration::from_secs(60))
            .clock(clock.clone())
            .build()
            .unwrap();
        for _ in 0..4 {
            b.try_acquire().unwrap().failure();
        }
        let budget = RetryBudget::builder().name("orders").ratio(0.0).min_per_second(0).clock(clock).build().unwrap();
        // Warm up: the first refusal registers the counters.
        assert!(b.try_acquire().is_err());
        assert!(!budget.try_withdraw());
        let before = allocs();
        for _ in 0..1_000 {
            assert!(b.try_acquire().is_err());
            assert!(!budget.try_withdraw());
        }
        assert_eq!(allocs() - before, 0, "refusals allocated");
    });
}
