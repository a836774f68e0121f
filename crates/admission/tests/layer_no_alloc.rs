//! The tower layer with classifiers (`priority_fn`, `key_fn`) still allocates nothing per
//! admitted call: both are called through the `Arc` stored once, and the request is split into
//! head and body by moves. Nor does a layer that queues: only a call that has to wait boxes.

#![cfg(feature = "tower")]
#![allow(clippy::unwrap_used, clippy::expect_used, unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use http::{Request, Response};
use perfstack_admission::rate::{KeyedRateLimit, RateLimit};
use perfstack_admission::tower::AdmissionLayer;
use perfstack_admission::{AdmissionController, Priority};
use tower::{Layer, Service};

struct Counting;
thread_local! {
    // Only allocations made by the test's own thread count (the harness has others).
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    // Per thread too, so the tests (run in parallel) count apart.
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
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
fn layer_with_classifiers_admitted_call_does_not_allocate() {
    let ctl = AdmissionController::builder()
        .fixed_limit(64)
        .rate_limit(RateLimit::per_second(1e6, 1_000_000).unwrap())
        .keyed_rate_limit(KeyedRateLimit::builder(1e6, 1_000_000).build().unwrap())
        .build()
        .unwrap();
    let bare = tower::service_fn(|_: Request<()>| std::future::ready(Ok::<_, Infallible>(Response::new(()))));
    let mut svc = AdmissionLayer::new(ctl.clone())
        .queue(false)
        .priority_fn(|req| if req.method == http::Method::GET { Priority::High } else { Priority::Low })
        .key_fn(|req| Some(req.uri.path()))
        .layer(bare);
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
    assert_eq!(ALLOCS.with(Cell::get), 0);
    assert_eq!(ctl.inflight(), 0);
}

#[test]
fn queueing_layer_admitted_call_does_not_allocate() {
    let ctl = AdmissionController::builder().fixed_limit(64).queue(16, Duration::from_secs(1)).build().unwrap();
    let bare = tower::service_fn(|_: Request<()>| std::future::ready(Ok::<_, Infallible>(Response::new(()))));
    let mut svc = AdmissionLayer::new(ctl.clone()).queue(true).layer(bare);
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
    assert_eq!(ALLOCS.with(Cell::get), 0);
    assert_eq!(ctl.inflight(), 0);
}
