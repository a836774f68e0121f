//! The harness catches what it promises to catch, and lets a working case pass.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

use super::{block_on, names, run_case, BoundedAlloc, Bounds, CaseFailure, Fuzz};

#[global_allocator]
static ALLOC: BoundedAlloc = BoundedAlloc::new();

/// Small bounds keep these tests fast; 64 MiB is far above what the rest of the lib tests
/// allocate at once, so running beside them does not make these flaky.
fn bounds() -> Bounds {
    Bounds::new(Duration::from_millis(300), 64 << 20)
}

/// For the cases that must fail on memory: touching 96–256 MiB of fresh pages can take longer
/// than 300 ms on a loaded 2-core machine, and then the time bound would fire first.
fn memory_bounds() -> Bounds {
    Bounds::new(Duration::from_secs(30), 64 << 20)
}

#[test]
fn the_allocator_is_installed_and_counts_live_bytes() {
    assert!(BoundedAlloc::is_installed());
    let before = BoundedAlloc::live_bytes();
    let block = vec![0_u8; 8 << 20];
    assert!(BoundedAlloc::live_bytes() >= before + (8 << 20) - (1 << 20), "other tests may free meanwhile");
    drop(block);
}

#[test]
fn a_working_case_passes() {
    assert_eq!(run_case(&bounds(), "ok", 3_u32, |n| assert_eq!(n + 1, 4)), Ok(()));
}

#[test]
fn a_panic_fails_the_case_with_its_message_and_location() {
    let err = run_case(&bounds(), "panics", (), |()| panic!("boom")).unwrap_err();
    match err {
        CaseFailure::Panicked { thread, location, message, count } => {
            assert_eq!(message, "boom");
            assert_eq!(thread, "fuzz panics");
            assert!(location.contains("tests.rs"), "{location}");
            assert_eq!(count, 1);
        }
        other => panic!("expected a panic, got {other:?}"),
    }
}

#[test]
fn a_panic_caught_inside_a_tokio_task_fails_the_case() {
    let err = run_case(&bounds(), "task panics", (), |()| {
        block_on(async {
            let joined = tokio::spawn(async { panic!("worker loop died") }).await;
            assert!(joined.is_err(), "tokio caught it");
        });
    })
    .unwrap_err();
    assert!(matches!(&err, CaseFailure::Panicked { message, .. } if message == "worker loop died"), "{err}");
}

#[test]
fn a_hang_fails_the_case_within_the_time_bound() {
    let started = std::time::Instant::now();
    let err = run_case(&bounds(), "hangs", (), |()| std::thread::sleep(Duration::from_secs(5))).unwrap_err();
    assert_eq!(err, CaseFailure::Hung { bound: Duration::from_millis(300) });
    assert!(err.leaves_thread_behind());
    assert!(started.elapsed() < Duration::from_secs(4), "the harness did not wait for the case");
}

#[test]
fn an_absurd_allocation_is_refused_before_the_system_allocator_sees_it() {
    let err = run_case(&bounds(), "absurd", (), |()| {
        // 34 GB: the system allocator would fail and Rust would abort the process.
        let v: Vec<u8> = Vec::with_capacity(34 << 30);
        std::hint::black_box(v);
    })
    .unwrap_err();
    assert_eq!(err, CaseFailure::AllocationRefused { bytes: 34 << 30, bound: 64 << 20 });
    assert!(err.leaves_thread_behind());
}

#[test]
fn live_heap_growth_over_the_bound_fails_after_the_case_returns() {
    let err = run_case(&memory_bounds(), "greedy", (), |()| {
        // 1 MiB blocks, none refused, 96 MiB in all.
        let blocks: Vec<Vec<u8>> = (0..96).map(|_| vec![1_u8; 1 << 20]).collect();
        std::hint::black_box(blocks);
    })
    .unwrap_err();
    match err {
        CaseFailure::OverBudget { grew, bound } => {
            assert!(grew >= 96 << 20, "{grew}");
            assert_eq!(bound, 64 << 20);
        }
        other => panic!("expected over budget, got {other:?}"),
    }
}

#[test]
fn a_runaway_loop_of_small_allocations_is_stopped_at_four_times_the_bound() {
    let err = run_case(&memory_bounds(), "runaway", (), |()| {
        let mut blocks = Vec::new();
        loop {
            blocks.push(vec![1_u8; 1 << 20]);
        }
    })
    .unwrap_err();
    match err {
        CaseFailure::RunawayHeap { grew, bound } => {
            assert!(grew > 4 * (64 << 20), "{grew}");
            assert_eq!(bound, 64 << 20);
        }
        other => panic!("expected a runaway heap, got {other:?}"),
    }
    assert!(err.leaves_thread_behind());
}

#[test]
fn a_hung_case_thread_is_parked_at_its_next_allocation() {
    let grown = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let g = std::sync::Arc::clone(&grown);
    let err = run_case(&bounds(), "hangs then allocates", (), move |()| {
        std::thread::sleep(Duration::from_millis(600));
        // Given up by now: this allocation never returns.
        let v = vec![0_u8; 1024];
        g.store(v.len(), std::sync::atomic::Ordering::SeqCst);
    })
    .unwrap_err();
    assert!(matches!(err, CaseFailure::Hung { .. }), "{err}");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(grown.load(std::sync::atomic::Ordering::SeqCst), 0, "the abandoned case allocated and went on");
}

#[test]
fn a_failing_property_reports_the_input_and_the_seed() {
    let report = std::panic::catch_unwind(|| {
        Fuzz::new("refuses seven").cases(64).time_bound(Duration::from_secs(1)).run(0_u32..100, |n| assert!(n < 7));
    })
    .unwrap_err();
    let report = super::panics::message(&*report);
    assert!(report.contains("fuzz property `refuses seven` failed"), "{report}");
    assert!(report.contains("input: 7"), "shrunk to the smallest failing input: {report}");
    assert!(report.contains("PERFSTACK_FUZZ_SEED="), "{report}");
}

#[test]
fn a_hanging_property_is_reported_without_shrinking_into_more_hangs() {
    let started = std::time::Instant::now();
    let report = std::panic::catch_unwind(|| {
        Fuzz::new("hangs on big").cases(64).time_bound(Duration::from_millis(200)).run(0_u32..1000, |n| {
            if n >= 10 {
                std::thread::sleep(Duration::from_secs(3));
            }
        });
    })
    .unwrap_err();
    let report = super::panics::message(&*report);
    assert!(report.contains("did not return within 200ms"), "{report}");
    assert!(started.elapsed() < Duration::from_secs(2), "one hang, not one per shrink step");
}

#[test]
fn a_given_input_is_checked_under_the_same_bounds() {
    Fuzz::new("given").check(String::from("fine"), |s| assert_eq!(s.len(), 4));
    let report = std::panic::catch_unwind(|| Fuzz::new("given").check(0_u8, |_| panic!("bad"))).unwrap_err();
    assert!(super::panics::message(&*report).contains("bad"));
}

#[test]
fn names_include_the_mistakes_users_make() {
    let mut runner = TestRunner::deterministic();
    let strategy = names();
    let seen: Vec<String> = (0..2_000).map(|_| strategy.new_tree(&mut runner).unwrap().current()).collect();
    for wanted in ["", "nul\0byte", "line\nbreak", "\"quoted\""] {
        assert!(seen.iter().any(|s| s == wanted), "{wanted:?} never drawn");
    }
    assert!(seen.iter().any(|s| s.len() == super::MIB && !s.is_ascii()), "a 1 MiB non-ASCII string");
}

#[test]
fn long_inputs_are_rendered_on_one_short_line() {
    let r = super::echo::render(&"x".repeat(super::MIB), super::echo::ECHO_MAX);
    assert!(r.len() < 400, "{}", r.len());
    assert!(r.contains("1048578 bytes"), "{r}");
}
