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
