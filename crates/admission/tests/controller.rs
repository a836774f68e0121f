//! AdmissionController: admission, priority shedding order, deadline queue, rejections.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use perfstack_admission::overload::ManualPressure;
use perfstack_admission::rate::RateLimit;
use perfstack_admission::*;
use proptest::prelude::*;
use tokio::time::Instant;

fn meta(p: Priority) -> RequestMeta<'static> {
    RequestMeta::new(p)
}

#[test]
fn handles_are_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<AdmissionController>();
    assert_send_sync::<RateLimit>();
    assert_send_sync::<perfstack_admission::rate::KeyedRateLimit>();
    fn assert_send<T: Send>() {}
    assert_send::<Permit>();
}

#[test]
fn bad_settings_are_refused_at_build_time() {
    assert!(matches!(AdmissionController::builder().fixed_limit(0).build(), Err(ConfigError::Zero("fixed_limit"))));
    assert!(matches!(PriorityShares::new([0.0, 0.3, 0.3, 0.3, 0.3]), Err(ConfigError::SharesTooLarge(_))));
    assert!(matches!(PriorityShares::new([0.0, f64::NAN, 0.0, 0.0, 0.0]), Err(ConfigError::Share { .. })));
    assert!(matches!(AdmissionController::builder().queue(10, Duration::ZERO).build(), Err(ConfigError::Queue(_))));
    // A wait that would overflow an instant at the first queued acquire is refused here.
    assert!(matches!(AdmissionController::builder().queue(10, Duration::MAX).build(), Err(ConfigError::Queue(_))));
    assert!(matches!(
        AdmissionController::builder().queue(usize::MAX, Duration::from_secs(1)).build(),
        Err(ConfigError::Queue(_))
    ));
    assert!(matches!(AdmissionController::builder().sample_every(0).build(), Err(ConfigError::Window(_))));
    assert!(matches!(
        AdmissionController::builder().window(Duration::from_secs(2), Duration::from_secs(1), 10).build(),
        Err(ConfigError::Window(_))
    ));
}

/// A window that never closes (or closes hourly at best), or one latency sample per four
/// billion admissions, leaves an adaptive limit that never adapts and overload signals that
/// are never re-read: refused at build time rather than built dead.
#[test]
fn windows_that_never_close_and_starved_sampling_are_refused() {
    let ms = Duration::from_millis;
    for (min, max) in [(ms(100), Duration::MAX), (Duration::MAX, Duration::MAX), (ms(100), Duration::from_secs(3_601))]
    {
        let built = AdmissionController::builder().window(min, max, u64::MAX).build();
        assert!(matches!(built, Err(ConfigError::Window(_))), "window {min:?}..{max:?} was built");
    }
    for n in [u32::MAX, 65_537] {
        assert!(matches!(AdmissionController::builder().sample_every(n).build(), Err(ConfigError::Window(_))), "{n}");
    }
    // The bounds themselves build, and the controller admits.
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let _g = rt.enter();
    let ctl = AdmissionController::builder()
        .window(Duration::from_secs(3_600), Duration::from_secs(3_600), u64::MAX)
        .sample_every(65_536)
        .build()
        .unwrap();
    drop(ctl.try_acquire(&meta(Priority::Critical)).unwrap());
}

/// A `Retry-After` of `Duration::MAX` (a store's answer is an input too) saturates instead of
/// overflowing the rounding up to whole seconds.
#[test]
fn retry_after_secs_saturates() {
    let r = Rejected { reason: RejectReason::Rate, priority: Priority::Low, retry_after: Some(Duration::MAX) };
    assert_eq!(r.retry_after_secs(), Some(u64::MAX));
}

proptest! {
    /// Whatever is in flight, the set of levels that would be refused is always a prefix of
    /// the levels, lowest first: shedding goes lowest level first, in strict order.
    #[test]
    fn shedding_goes_lowest_level_first(limit in 1usize..60, held in prop::collection::vec(0usize..5, 0..80),
                                        reserves in prop::array::uniform4(0.0f64..0.2)) {
        let shares = PriorityShares::new([0.0, reserves[0], reserves[1], reserves[2], reserves[3]]).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let _g = rt.enter();
        let ctl = AdmissionController::builder().fixed_limit(limit).priority_shares(shares).build().unwrap();
        let mut permits = Vec::new();
        for level in held {
            if let Ok(p) = ctl.try_acquire(&meta(Priority::ALL[level])) {
                permits.push(p);
            }
            let refused: Vec<bool> = Priority::ALL.iter().map(|&p| ctl.try_acquire(&meta(p)).is_err()).collect();
            // refused must look like [true.., false..]
            let first_admitted = refused.iter().position(|r| !r).unwrap_or(5);
            prop_assert!(refused[first_admitted..].iter().all(|r| !r), "refused {:?}", refused);
            prop_assert!(ctl.inflight() <= limit);
        }
        // Critical can always use the whole limit.
        drop(permits);
        let all: Vec<_> = (0..limit).map(|_| ctl.try_acquire(&meta(Priority::Critical)).unwrap()).collect();
        prop_assert_eq!(all.len(), limit);
    }
}

#[tokio::test(start_paused = true)]
async fn rejection_says_why_and_when() {
    let ctl = AdmissionController::builder()
        .fixed_limit(1)
        .rate_limit(RateLimit::per_second(10.0, 2).unwrap())
        .build()
        .unwrap();
    let p = ctl.try_acquire(&meta(Priority::Critical)).unwrap();
    let e = ctl.try_acquire(&meta(Priority::Critical)).unwrap_err();
    assert_eq!(e.reason, RejectReason::Concurrency);
    assert_eq!(e.reason.http_status(), 503);
    drop(p);
    // The concurrency refusal spent no rate cell: the burst's second cell is still there.
    drop(ctl.try_acquire(&meta(Priority::Critical)).unwrap());
    let e = ctl.try_acquire(&meta(Priority::Critical)).unwrap_err();
    assert_eq!(e.reason, RejectReason::Rate);
    assert_eq!(e.reason.http_status(), 429);
    assert!(e.retry_after.unwrap() <= Duration::from_millis(100));
    assert_eq!(e.retry_after_secs(), Some(1));
    let past = meta(Priority::Critical).deadline(Instant::now());
    assert_eq!(ctl.try_acquire(&past).unwrap_err().reason, RejectReason::Deadline);
    let s = ctl.stats();
    assert_eq!(s.priorities[4].rejected["rate"], 1);
    assert_eq!(s.priorities[4].rejected["concurrency"], 1);
    assert!(serde_json::to_string(&s).unwrap().contains("\"limit\":1"));
}

#[tokio::test(start_paused = true)]
async fn borrowed_and_owned_permits_share_one_count() {
    let ctl = AdmissionController::builder().fixed_limit(2).priority_shares(PriorityShares::none()).build().unwrap();
    let a = ctl.try_acquire_ref(&meta(Priority::Normal)).unwrap();
    let b = ctl.try_acquire(&meta(Priority::Normal)).unwrap();
    assert!(ctl.try_acquire_ref(&meta(Priority::Normal)).is_err());
    drop(a);
    assert_eq!(ctl.inflight(), 1);
    drop(b);
    assert_eq!(ctl.inflight(), 0);
    assert_eq!(ctl.stats().admitted_total, 2);
}

#[tokio::test(start_paused = true)]
async fn queued_request_gets_the_slot_when_a_permit_drops() {
    let ctl = AdmissionController::builder().fixed_limit(1).queue(4, Duration::from_secs(1)).build().unwrap();
    let held = ctl.try_acquire(&meta(Priority::Critical)).unwrap();
    let c = ctl.clone();
    let waiter = tokio::spawn(async move { c.acquire(&meta(Priority::Critical)).await.map(|p| p.priority()) });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(ctl.stats().queued, 1);
    drop(held);
    assert_eq!(waiter.await.unwrap(), Ok(Priority::Critical));
    assert_eq!(ctl.inflight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_request_whose_deadline_passes_in_the_queue_never_runs() {
    let ctl = AdmissionController::builder().fixed_limit(1).queue(4, Duration::from_secs(5)).build().unwrap();
    let held = ctl.try_acquire(&meta(Priority::Critical)).unwrap();
    let start = Instant::now();
    let m = meta(Priority::Critical).deadline(start + Duration::from_millis(200));
    let e = ctl.acquire(&m).await.unwrap_err();
    assert_eq!(e.reason, RejectReason::Deadline);
    assert_eq!(Instant::now() - start, Duration::from_millis(200));
    drop(held);
    assert_eq!(ctl.inflight(), 0, "the expired waiter must not take the slot");
}

async fn serve_order(order: QueueOrder, arrivals: &[Priority]) -> Vec<usize> {
    let ctl = AdmissionController::builder()
        .fixed_limit(1)
        // Every level may use the one slot: this is about the queue's order, not the reserves.
        .priority_shares(PriorityShares::none())
        .queue(16, Duration::from_secs(5))
        .queue_order(order)
        .build()
        .unwrap();
    let held = ctl.try_acquire(&meta(Priority::Critical)).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for (i, &p) in arrivals.iter().enumerate() {
        let (c, tx) = (ctl.clone(), tx.clone());
        tokio::spawn(async move {
            let permit = c.acquire(&meta(p)).await.unwrap();
            tx.send(i).unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
            drop(permit);
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    drop(held);
    let mut served = Vec::new();
    for _ in arrivals {
        served.push(rx.recv().await.unwrap());
    }
    served
}

#[tokio::test(start_paused = true)]
async fn queue_serves_the_most_important_first_then_fifo_or_lifo() {
    use Priority::*;
    let arrivals = [Low, Normal, Critical, Low, Critical];
    assert_eq!(serve_order(QueueOrder::Fifo, &arrivals).await, vec![2, 4, 1, 0, 3]);
    assert_eq!(serve_order(QueueOrder::Lifo, &arrivals).await, vec![4, 2, 1, 3, 0]);
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_evicts_the_least_important_waiter() {
    let ctl = AdmissionController::builder().fixed_limit(1).queue(1, Duration::from_secs(5)).build().unwrap();
    let _held = ctl.try_acquire(&meta(Priority::Critical)).unwrap();
    let c = ctl.clone();
    let low = tokio::spawn(async move { c.acquire(&meta(Priority::Low)).await.map(|_| ()) });
    tokio::time::sleep(Duration::from_millis(1)).await;
    let c = ctl.clone();
    let _critical = tokio::spawn(async move { c.acquire(&meta(Priority::Critical)).await.map(|_| ()) });
    let e = low.await.unwrap().unwrap_err();
    assert_eq!((e.reason, e.priority), (RejectReason::QueueFull, Priority::Low));
    // A second Low cannot evict the queued Critical.
    assert_eq!(ctl.acquire(&meta(Priority::Low)).await.unwrap_err().reason, RejectReason::QueueFull);
}

#[tokio::test(start_paused = true)]
async fn overload_pressure_sheds_lowest_levels_but_never_critical() {
    let pressure = ManualPressure::default();
    let ctl = AdmissionController::builder().fixed_limit(100).overload_signal(pressure.clone()).build().unwrap();
    pressure.set(1.0);
    assert_eq!(ctl.refresh_overload(), 1);
    assert_eq!(ctl.try_acquire(&meta(Priority::Low)).unwrap_err().reason, RejectReason::Overload);
    assert!(ctl.try_acquire(&meta(Priority::Normal)).is_ok());
    pressure.set(10.0);
    assert_eq!(ctl.refresh_overload(), 4);
    assert!(ctl.try_acquire(&meta(Priority::Urgent)).is_err());
    assert!(ctl.try_acquire(&meta(Priority::Critical)).is_ok());
    pressure.set(0.5);
    assert_eq!(ctl.refresh_overload(), 0);
    assert!(ctl.try_acquire(&meta(Priority::Low)).is_ok());
}

#[tokio::test(start_paused = true)]
async fn permits_feed_the_adaptive_limit() {
    let ctl = AdmissionController::builder()
        .try_limit(perfstack_admission::limit::Aimd::new(perfstack_admission::limit::AimdConfig {
            initial: 10,
            rtt_tolerance: None,
            ..Default::default()
        }))
        .priority_shares(PriorityShares::none())
        .sample_every(1)
        .build()
        .unwrap();
    // Windows full of drops: the limit backs off.
    for _ in 0..5 {
        let mut permits: Vec<_> = (0..10).filter_map(|_| ctl.try_acquire(&meta(Priority::Normal)).ok()).collect();
        tokio::time::sleep(Duration::from_millis(120)).await;
        for p in &mut permits {
            p.dropped();
        }
    }
    assert!(ctl.limit() < 10, "limit {}", ctl.limit());
    assert!(ctl.stats().windows >= 4);
}

/// An in-memory store that admits `n` requests, then refuses.
#[derive(Debug)]
struct CountingStore(std::sync::atomic::AtomicU32);

impl perfstack_admission::rate::RateLimitStore for CountingStore {
    fn check<'a>(&'a self, _key: Option<&'a str>) -> perfstack_admission::rate::StoreFuture<'a> {
        Box::pin(async move {
            if self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) > 0 {
                Ok(())
            } else {
                Err(perfstack_admission::rate::StoreRefusal::Limited(Duration::from_millis(250)))
            }
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_distributed_store_refusal_gives_the_slot_back() {
    let ctl = AdmissionController::builder()
        .fixed_limit(10)
        .rate_limit_store(CountingStore(std::sync::atomic::AtomicU32::new(1)))
        .build()
        .unwrap();
    let p = ctl.acquire_now(&meta(Priority::Critical)).await.unwrap();
    let e = ctl.acquire(&meta(Priority::Critical)).await.unwrap_err();
    assert_eq!((e.reason, e.retry_after), (RejectReason::Rate, Some(Duration::from_millis(250))));
    assert_eq!(ctl.inflight(), 1, "the refused request gave its slot back");
    // try_acquire never does I/O: the store is not consulted.
    assert!(ctl.try_acquire(&meta(Priority::Critical)).is_ok());
    drop(p);
}

/// At a limit too small for the reserves, lower levels get no slot of their own: while
/// `Critical` runs they are refused (ADR 0037: when nothing runs, they still may).
#[tokio::test(start_paused = true)]
async fn at_limit_one_only_critical_is_admitted_and_at_two_low_gets_one() {
    let ctl = AdmissionController::builder().fixed_limit(1).build().unwrap();
    let critical = ctl.try_acquire(&meta(Priority::Critical)).unwrap();
    for p in [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent] {
        assert_eq!(ctl.try_acquire(&meta(p)).unwrap_err().reason, RejectReason::Concurrency, "{p:?}");
    }
    assert_eq!(ctl.stats().priorities.iter().map(|s| s.cap).collect::<Vec<_>>(), [0, 0, 0, 0, 1]);
    drop(critical);

    let ctl = AdmissionController::builder().fixed_limit(2).build().unwrap();
    let low = ctl.try_acquire(&meta(Priority::Low)).unwrap();
    assert_eq!(ctl.try_acquire(&meta(Priority::Urgent)).unwrap_err().reason, RejectReason::Concurrency);
    let critical = ctl.try_acquire(&meta(Priority::Critical)).unwrap();
    drop((low, critical));
}

/// Work-conserving at a limit too small for the reserves: a level whose cap is 0 still runs
/// when nothing else is in flight (else an adaptive limit at 1 under lower-level traffic would
/// refuse everything, get no latency sample and never rise), but not beside running work.
#[tokio::test(start_paused = true)]
async fn a_level_with_cap_zero_runs_when_nothing_else_does() {
    let ctl = AdmissionController::builder().fixed_limit(1).build().unwrap();
    assert_eq!(ctl.stats().priorities[0].cap, 0);
    let low = ctl.try_acquire(&meta(Priority::Low)).expect("an idle controller admits Low");
    assert_eq!(ctl.try_acquire(&meta(Priority::Normal)).unwrap_err().reason, RejectReason::Concurrency);
    drop(low);
    for _ in 0..3 {
        drop(ctl.try_acquire(&meta(Priority::Normal)).expect("admitted one at a time"));
    }
}

/// A signal reading +∞ is fully overloaded (not ignored); NaN is ignored; negative is 0.
#[tokio::test(start_paused = true)]
async fn an_infinite_pressure_sheds_every_level_but_critical() {
    let (inf, nan) = (ManualPressure::default(), ManualPressure::default());
    let ctl = AdmissionController::builder()
        .fixed_limit(100)
        .overload_signal(inf.clone())
        .overload_signal(nan.clone())
        .build()
        .unwrap();
    inf.set(f64::INFINITY);
    nan.set(f64::NAN);
    assert_eq!(ctl.refresh_overload(), 4);
    assert_eq!(ctl.try_acquire(&meta(Priority::Urgent)).unwrap_err().reason, RejectReason::Overload);
    assert!(ctl.try_acquire(&meta(Priority::Critical)).is_ok());
    inf.set(f64::NEG_INFINITY);
    assert_eq!(ctl.refresh_overload(), 0);
}

/// A store that answers (yes) after a fixed delay.
#[derive(Debug)]
struct SlowStore(Duration);

impl perfstack_admission::rate::RateLimitStore for SlowStore {
    fn check<'a>(&'a self, _key: Option<&'a str>) -> perfstack_admission::rate::StoreFuture<'a> {
        Box::pin(async move {
            tokio::time::sleep(self.0).await;
            Ok(())
        })
    }
}

/// The deadline bounds the wait for the distributed store: past it the request is refused
/// (`Deadline`) and its slot given back, not admitted to run late.
#[tokio::test(start_paused = true)]
async fn a_deadline_that_passes_while_the_store_answers_refuses_the_request() {
    let ctl = AdmissionController::builder()
        .fixed_limit(4)
        .rate_limit_store(SlowStore(Duration::from_secs(1)))
        .build()
        .unwrap();
    let start = Instant::now();
    let late = meta(Priority::Critical).deadline(start + Duration::from_millis(100));
    let err = ctl.acquire_now(&late).await.unwrap_err();
    assert_eq!(err.reason, RejectReason::Deadline);
    assert_eq!(Instant::now() - start, Duration::from_millis(100), "refused at the deadline, not after the store");
    assert_eq!(ctl.inflight(), 0, "the slot is given back");
    assert_eq!(ctl.stats().windows, 0, "no latency sample");
    // With time to spare, the same store admits.
    let ok = meta(Priority::Critical).deadline(Instant::now() + Duration::from_secs(2));
    let permit = ctl.acquire_now(&ok).await.unwrap();
    assert_eq!(ctl.inflight(), 1);
    drop(permit);
}
