//! Unit tests of the controller that need its private state.

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

/// A controller that owns a background task (here the scheduler-delay probe) keeps no spare
/// reference: after an owned permit was taken and dropped on this thread, dropping the
/// controller stops the probe task. (With a spare, the probe ran on for as long as the thread.)
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn dropping_a_controller_with_a_probe_task_stops_it_despite_owned_permits() {
    use crate::overload::SchedulerDelay;
    let probe = SchedulerDelay::spawn(Duration::from_millis(10), Duration::from_millis(50)).unwrap();
    let alive = probe.probe_alive();
    let ctl = AdmissionController::builder().fixed_limit(4).overload_signal(probe).build().unwrap();
    let weak = std::sync::Arc::downgrade(&ctl.inner);
    let meta = RequestMeta::new(Priority::Critical);
    drop(ctl.try_acquire(&meta).unwrap());
    // Let the probe run a few rounds, so it is a live task when the controller goes.
    tokio::time::sleep(Duration::from_millis(35)).await;
    assert!(alive.upgrade().is_some(), "the probe runs while the controller lives");
    drop(ctl);
    assert_eq!(weak.strong_count(), 0, "no spare reference keeps the controller alive");
    // The abort is processed the next time the runtime polls the task: a bounded number of yields.
    for _ in 0..100 {
        if alive.upgrade().is_none() {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(alive.upgrade().is_none(), "the probe task still runs after the controller was dropped");
}
