//! A request refused locally spends no rate quota, local or distributed; a slot given back
//! after a late refusal goes to a waiter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use perfstack_admission::clock::ManualClock;
use perfstack_admission::overload::ManualPressure;
use perfstack_admission::rate::{Gcra, KeyedRateLimit, RateLimit, RateLimitStore, StoreFuture, StoreRefusal};
use perfstack_admission::*;
use tokio::sync::Semaphore;

fn meta(p: Priority) -> RequestMeta<'static> {
    RequestMeta::new(p)
}

fn rate(burst: u64) -> RateLimit {
    // A manual clock that never moves: no cell comes back during the test.
    RateLimit::with_clock(Gcra::per_second(1.0, burst).unwrap(), Arc::new(ManualClock::default()))
}

#[tokio::test(start_paused = true)]
async fn an_overload_refusal_spends_no_rate_cell() {
    let pressure = ManualPressure::default();
    let ctl = AdmissionController::builder()
        .fixed_limit(10)
        .rate_limit(rate(1))
        .overload_signal(pressure.clone())
        .build()
        .unwrap();
    pressure.set(1.0);
    assert_eq!(ctl.refresh_overload(), 1);
    assert_eq!(ctl.try_acquire(&meta(Priority::Low)).unwrap_err().reason, RejectReason::Overload);
    // The only cell is still there.
    assert!(ctl.try_acquire(&meta(Priority::Critical)).is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_concurrency_refusal_spends_no_rate_cell() {
    let keyed: KeyedRateLimit =
        KeyedRateLimit::builder(1.0, 2).clock(Arc::new(ManualClock::default())).build().unwrap();
    let ctl = AdmissionController::builder()
        .fixed_limit(1)
        .priority_shares(PriorityShares::none())
        .rate_limit(rate(2))
        .keyed_rate_limit(keyed)
        .build()
        .unwrap();
    let m = meta(Priority::High).key("tenant");
    let held = ctl.try_acquire(&m).unwrap();
    assert_eq!(ctl.try_acquire(&m).unwrap_err().reason, RejectReason::Concurrency);
    drop(held);
    // Second cell of both the direct and the keyed bucket: the refused request took neither.
    assert!(ctl.try_acquire(&m).is_ok());
    assert_eq!(ctl.try_acquire(&m).unwrap_err().reason, RejectReason::Rate);
    assert_eq!(ctl.inflight(), 0, "a rate refusal gives its slot back");
}

/// Admits requests without a key; a request with a key waits for the gate, then is refused.
#[derive(Debug)]
struct GatedStore {
    gate: Arc<Semaphore>,
    calls: Arc<AtomicU32>,
}

impl RateLimitStore for GatedStore {
    fn check<'a>(&'a self, key: Option<&'a str>) -> StoreFuture<'a> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if key.is_none() {
                return Ok(());
            }
            let _open = self.gate.acquire().await;
            Err(StoreRefusal::Limited(Duration::from_millis(250)))
        })
    }
}

fn gated(limit: usize) -> (AdmissionController, Arc<Semaphore>, Arc<AtomicU32>) {
    let gate = Arc::new(Semaphore::new(0));
    let calls = Arc::new(AtomicU32::new(0));
    let ctl = AdmissionController::builder()
        .fixed_limit(limit)
        .priority_shares(PriorityShares::none())
        .queue(4, Duration::from_secs(5))
        .sample_every(1)
        .window(Duration::from_millis(1), Duration::from_millis(1), 1)
        .rate_limit_store(GatedStore { gate: Arc::clone(&gate), calls: Arc::clone(&calls) })
        .build()
        .unwrap();
    (ctl, gate, calls)
}

#[tokio::test(start_paused = true)]
async fn the_store_is_asked_only_after_local_admission() {
    let (ctl, _gate, calls) = gated(1);
    let held = ctl.acquire_now(&meta(Priority::High)).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let e = ctl.acquire_now(&meta(Priority::High)).await.unwrap_err();
    assert_eq!(e.reason, RejectReason::Concurrency);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "a request refused locally spent no distributed cell");
    drop(held);
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..100 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test(start_paused = true)]
async fn a_store_refusal_gives_the_slot_to_a_waiter() {
    let (ctl, gate, calls) = gated(1);
    // Holds the only slot while the store decides (it will refuse).
    let refused = {
        let ctl = ctl.clone();
        tokio::spawn(async move { ctl.acquire_now(&meta(Priority::High).key("over")).await.map(drop) })
    };
    eventually("the first request holds the slot while the store answers", || ctl.inflight() == 1).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let waiter = {
        let ctl = ctl.clone();
        tokio::spawn(async move {
            let p = ctl.acquire(&meta(Priority::High)).await?;
            Ok::<_, Rejected>(p.priority())
        })
    };
    eventually("the second request waits in the queue", || ctl.stats().queued == 1).await;
    gate.add_permits(1);
    assert_eq!(refused.await.unwrap().unwrap_err().reason, RejectReason::Rate);
    assert_eq!(waiter.await.unwrap().expect("the freed slot went to the waiter"), Priority::High);
    assert_eq!(ctl.inflight(), 0);
    let s = ctl.stats();
    assert_eq!(s.admitted_total, 1, "the refused request is not counted as admitted");
    assert_eq!(s.priorities[Priority::High.index()].rejected["rate"], 1);
    assert_eq!(s.priorities[Priority::High.index()].rejected["concurrency"], 0);
}

#[tokio::test(start_paused = true)]
async fn a_store_refusal_records_no_latency_sample() {
    let (ctl, gate, _calls) = gated(1);
    gate.add_permits(1);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let e = ctl.acquire_now(&meta(Priority::High).key("over")).await.unwrap_err();
    assert_eq!(e.reason, RejectReason::Rate);
    tokio::time::sleep(Duration::from_millis(10)).await;
    // Every sample closes a window here (1 ms, 1 sample): none was recorded.
    assert_eq!((ctl.stats().windows, ctl.stats().admitted_total, ctl.inflight()), (0, 0, 0));
    // An admitted request's sample does close one.
    drop(ctl.acquire_now(&meta(Priority::High)).await.unwrap());
    assert_eq!(ctl.stats().windows, 1);
}
