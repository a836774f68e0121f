//! Rejection counts in `stats()` count real refusals only, each request once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use perfstack_admission::*;

fn rejected(ctl: &AdmissionController, p: Priority, reason: &str) -> u64 {
    ctl.stats().priorities[p.index()].rejected[reason]
}

#[tokio::test(start_paused = true)]
async fn a_queued_then_admitted_request_is_not_a_concurrency_rejection() {
    let ctl = AdmissionController::builder()
        .fixed_limit(1)
        .priority_shares(PriorityShares::none())
        .queue(4, Duration::from_secs(1))
        .build()
        .unwrap();
    let held = ctl.try_acquire(&RequestMeta::new(Priority::High)).unwrap();
    let waiter = {
        let ctl = ctl.clone();
        tokio::spawn(async move { ctl.acquire(&RequestMeta::new(Priority::High)).await.map(drop) })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(ctl.stats().queued, 1);
    drop(held);
    waiter.await.unwrap().expect("the queued request is admitted when the slot frees");
    assert_eq!(rejected(&ctl, Priority::High, "concurrency"), 0, "admitted after queueing: no rejection");

    // A request that queues and then times out counts once, as a deadline refusal.
    let _held = ctl.try_acquire(&RequestMeta::new(Priority::High)).unwrap();
    let e = ctl.acquire(&RequestMeta::new(Priority::High)).await.unwrap_err();
    assert_eq!(e.reason, RejectReason::Deadline);
    let s = ctl.stats();
    let total: u64 = s.priorities[Priority::High.index()].rejected.values().sum();
    assert_eq!((rejected(&ctl, Priority::High, "deadline"), total), (1, 1));

    // try_acquire never queues: its concurrency refusal is counted.
    assert_eq!(ctl.try_acquire(&RequestMeta::new(Priority::High)).unwrap_err().reason, RejectReason::Concurrency);
    assert_eq!(rejected(&ctl, Priority::High, "concurrency"), 1);
}
