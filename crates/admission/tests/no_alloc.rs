//! The admitted path (try_acquire + permit drop, with a rate limit) does not allocate.
#![allow(clippy::unwrap_used, clippy::expect_used, unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use std::sync::Arc;
use std::time::Duration;

use perfstack_admission::clock::ManualClock;
use perfstack_admission::limit::{Vegas, VegasConfig};
use perfstack_admission::rate::RateLimit;
use perfstack_admission::{AdmissionController, Priority, RequestMeta};

struct Counting;
thread_local! {
    // Only allocations made by the test's own thread count (the harness has others).
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
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

#[test]
fn admitted_path_does_not_allocate() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let _g = rt.enter();
    // A manual clock moved 1 ms per call, so control windows close (and the limit updates)
    // while allocations are counted.
    let clock = ManualClock::default();
    let ctl = AdmissionController::builder()
        .try_limit(Vegas::new(VegasConfig::default()))
        .rate_limit(RateLimit::per_second(1e6, 1_000_000).unwrap())
        .clock(Arc::new(clock.clone()))
        .sample_every(1)
        .build()
        .unwrap();
    let meta = RequestMeta::new(Priority::Critical);
    for _ in 0..100 {
        drop(ctl.try_acquire(&meta).unwrap()); // warm up thread-locals and lazy statics
    }
    COUNTING.with(|c| c.set(true));
    for _ in 0..10_000 {
        drop(ctl.try_acquire(&meta).unwrap());
        drop(ctl.try_acquire_ref(&meta).unwrap());
        clock.advance(Duration::from_millis(1));
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(ALLOCS.load(Ordering::SeqCst), 0);
    assert!(ctl.stats().windows >= 50, "windows closed: {}", ctl.stats().windows);
}

/// The tower layer's common case (no queue, no Redis limit) allocates nothing either: the
/// decision is made in `call` and the response future is a plain enum around the inner one.
#[cfg(feature = "tower")]
#[test]
fn tower_layer_admitted_call_does_not_allocate() {
    use std::convert::Infallible;
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    use http::{Request, Response};
    use perfstack_admission::tower::AdmissionLayer;
    use tower::{Layer, Service};

    let ctl = AdmissionController::builder()
        .fixed_limit(64)
        .rate_limit(RateLimit::per_second(1e6, 1_000_000).unwrap())
        .build()
        .unwrap();
    let bare = tower::service_fn(|_: Request<()>| std::future::ready(Ok::<_, Infallible>(Response::new(()))));
    let mut svc = AdmissionLayer::new(ctl.clone()).queue(false).layer(bare);
    let mut cx = Context::from_waker(Waker::noop());
    let mut one_call = || {
        assert!(matches!(svc.poll_ready(&mut cx), Poll::Ready(Ok(()))));
        let fut = std::pin::pin!(svc.call(Request::new(())));
        match fut.poll(&mut cx) {
            Poll::Ready(Ok(res)) => assert!(res.status().is_success()),
            other => panic!("not admitted at once: {other:?}"),
        }
    };
    for _ in 0..100 {
        one_call();
    }
    COUNTING.with(|c| c.set(true));
    for _ in 0..10_000 {
        one_call();
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(ALLOCS.load(Ordering::SeqCst), 0);
    assert_eq!(ctl.inflight(), 0);
}
