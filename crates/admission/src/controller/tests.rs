#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::mpsc;
use std::time::Duration;

use super::{AdmissionController, PriorityShares, RejectReason, RequestMeta};
use crate::Priority;

/// A concurrency refusal reads its Retry-After without the controller's lock: with the lock
/// held elsewhere (as a release closing a window holds it), a refusal still returns at once.
#[test]
fn a_concurrency_refusal_does_not_take_the_lock() {
    let ctl = AdmissionController::builder().fixed_limit(1).priority_shares(PriorityShares::none()).build().unwrap();
    let _held = ctl.try_acquire(&RequestMeta::new(Priority::Critical)).unwrap();
    let guard = ctl.inner.core.lock();
    let (tx, rx) = mpsc::channel();
    let other = ctl.clone();
    let t = std::thread::spawn(move || {
        let r = other.try_acquire(&RequestMeta::new(Priority::Critical)).map(drop);
        let _ = tx.send(r.map_err(|e| e.reason));
    });
    let got = rx.recv_timeout(Duration::from_secs(5));
    drop(guard);
    t.join().unwrap();
    assert_eq!(got.expect("the refusal waited for the lock"), Err(RejectReason::Concurrency));
}

/// An owned permit leaves its reference as the thread's spare instead of decrementing it: the
/// next permit of the same controller reuses it (no new reference), a permit of another
/// controller replaces it, and then the first controller is freed.
#[test]
fn owned_permits_reuse_the_threads_spare_reference_and_free_a_dropped_controller() {
    // A fresh thread: no spare left by another test.
    std::thread::spawn(|| {
        let a = AdmissionController::builder().fixed_limit(4).build().unwrap();
        let weak = std::sync::Arc::downgrade(&a.inner);
        let meta = RequestMeta::new(Priority::Critical);
        drop(a.try_acquire(&meta).unwrap());
        assert_eq!(weak.strong_count(), 2, "the handle and this thread's spare");
        let p = a.try_acquire(&meta).unwrap();
        assert_eq!(weak.strong_count(), 2, "the permit took the spare, no new reference");
        drop(a);
        assert_eq!(a_inflight(&weak), 1, "the permit keeps the controller alive");
        drop(p);
        assert_eq!(a_inflight(&weak), 0);
        assert_eq!(weak.strong_count(), 1, "only the spare holds it now");
        let b = AdmissionController::builder().fixed_limit(4).build().unwrap();
        drop(b.try_acquire(&meta).unwrap());
        assert_eq!(weak.strong_count(), 0, "replaced as the spare by another controller: freed");
    })
    .join()
    .unwrap();
}

fn a_inflight(weak: &std::sync::Weak<super::inner::Inner>) -> usize {
    weak.upgrade().map_or(usize::MAX, |i| i.inflight())
}
