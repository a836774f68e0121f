//! Admission overhead: one admitted call (rate limit + concurrency limit + permit drop) next to
//! a raw `governor` check on the same clock, in the same run; the accuracy of one Redis limit
//! shared by two controllers (loopback, bounded in time); and the real-time load run with
//! spread-out service times (`admission/load.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "admission/load.rs"]
mod load;

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use governor::{Quota, RateLimiter};
use perfstack_admission::rate::RateLimit;
use perfstack_admission::redis::RedisRateLimit;
use perfstack_admission::{AdmissionController, Permit, Priority, PriorityShares, RequestMeta};
use perfstack_benches::{record, Figure, Goal, Measure};

fn overhead(c: &mut Criterion) {
    let mut g = c.benchmark_group("admission");
    // 10⁸ per second with a burst of 10⁸: never refuses at bench speed (the highest burst we accept).
    let huge = Quota::per_second(NonZeroU32::new(100_000_000).unwrap());
    let gov = RateLimiter::direct(huge);
    g.bench_function("governor_check", |b| b.iter(|| black_box(gov.check().is_ok())));
    let ours = RateLimit::from_quota(huge).unwrap();
    g.bench_function("rate_check", |b| b.iter(|| black_box(ours.check().is_ok())));
    let ctl = AdmissionController::builder()
        .fixed_limit(1_000)
        .priority_shares(PriorityShares::none())
        .rate_limit(RateLimit::from_quota(huge).unwrap())
        .build()
        .unwrap();
    let meta = RequestMeta::new(Priority::Normal);
    g.bench_function("admitted_call", |b| b.iter(|| drop(black_box(ctl.try_acquire(&meta).unwrap()))));
    g.bench_function("admitted_call_cross_thread", |b| b.iter_custom(|iters| cross_thread(&ctl, &meta, iters)));
    g.bench_function("admitted_call_ref", |b| b.iter(|| drop(black_box(ctl.try_acquire_ref(&meta).unwrap()))));
    // Both sides on the TSC (quanta) are compared in perfstack-peers-admission, where governor
    // has its quanta feature; here governor has only `std` (decision 0035).
    g.finish();
}

/// Permits taken on this thread and dropped on another, as a task stolen by another tokio worker
/// drops its permit there: the time to take `iters` permits here plus the time the other thread
/// spends dropping them, in batches (no channel or wake-up in the measured time).
fn cross_thread(ctl: &AdmissionController, meta: &RequestMeta<'_>, iters: u64) -> Duration {
    const BATCH: u64 = 256;
    let (to_dropper, batches) = mpsc::sync_channel::<Vec<Permit>>(1);
    let (back, returned) = mpsc::sync_channel::<(Vec<Permit>, Duration)>(1);
    let dropper = std::thread::spawn(move || {
        for mut batch in batches {
            let t = Instant::now();
            batch.drain(..).for_each(|p| drop(black_box(p)));
            if back.send((batch, t.elapsed())).is_err() {
                break;
            }
        }
    });
    let mut total = Duration::ZERO;
    let mut batch = Vec::with_capacity(BATCH as usize);
    let mut left = iters;
    while left > 0 {
        let n = left.min(BATCH);
        let t = Instant::now();
        for _ in 0..n {
            batch.push(black_box(ctl.try_acquire(meta).unwrap()));
        }
        total += t.elapsed();
        to_dropper.send(batch).unwrap();
        let (empty, dropping) = returned.recv().unwrap();
        total += dropping;
        batch = empty;
        left -= n;
    }
    drop(to_dropper);
    dropper.join().unwrap();
    total
}

/// The peers a tower user would pick instead, in one async harness: a bare `service_fn`, the
/// same behind `tower::limit::ConcurrencyLimit`, and the same inside an admission permit.
fn tower_peers(c: &mut Criterion) {
    use std::convert::Infallible;
    use tower::{Service, ServiceBuilder, ServiceExt};
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut g = c.benchmark_group("admission_tower");
    let bare = tower::service_fn(|_: ()| async { Ok::<_, Infallible>(()) });
    let limited = ServiceBuilder::new().concurrency_limit(1_000).service(bare);
    g.bench_function("bare", |b| {
        b.to_async(&rt).iter(|| {
            let mut s = bare;
            async move { s.ready().await.unwrap().call(()).await.unwrap() }
        })
    });
    g.bench_function("concurrency_limit", |b| {
        b.to_async(&rt).iter(|| {
            let mut s = limited.clone();
            async move { s.ready().await.unwrap().call(()).await.unwrap() }
        })
    });
    let ctl =
        AdmissionController::builder().fixed_limit(1_000).priority_shares(PriorityShares::none()).build().unwrap();
    let meta = RequestMeta::new(Priority::Normal);
    g.bench_function("admission", |b| {
        b.to_async(&rt).iter(|| {
            let mut s = bare;
            let permit = ctl.try_acquire(&meta).unwrap();
            async move {
                s.ready().await.unwrap().call(()).await.unwrap();
                drop(permit);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, overhead, tower_peers);

/// Two controllers, each with its own Redis client, share one Redis limit and are hammered for a
/// bounded time (1,000 attempts/s together, loopback): the combined admitted count against
/// `burst + rate × t`. One run with the default lease and one with a lease of 4 cells.
fn shared_redis_limit() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let Some(rk) = rt.block_on(perfstack_testkit::require_redis()) else { return };
    let secs = if perfstack_benches::quick() { 1.5 } else { 3.0 };
    for (name, rate, burst, lease) in [("default lease", 200.0, 10, None), ("lease of 4 cells", 400.0, 40, Some(4))] {
        let key = rk.key(&format!("shared-{burst}"));
        let (admitted, expected) = rt.block_on(async {
            let mut ctls = Vec::new();
            for _ in 0..2 {
                let mut b = RedisRateLimit::builder(rk.connect().await.unwrap(), key.clone(), rate, burst);
                if let Some(n) = lease {
                    b = b.lease_cells(n);
                }
                let store = b.build().await.unwrap();
                ctls.push(AdmissionController::builder().fixed_limit(1_000).rate_limit_store(store).build().unwrap());
            }
            let start = Instant::now();
            let until = start + Duration::from_secs_f64(secs);
            let runs: Vec<_> = ctls.into_iter().map(|ctl| tokio::spawn(hammer(ctl, until))).collect();
            let mut admitted = 0;
            for r in runs {
                admitted += r.await.unwrap();
            }
            (admitted, burst as f64 + rate * start.elapsed().as_secs_f64())
        });
        record(&Figure {
            krate: "admission".into(),
            figure: format!("two instances sharing one Redis limit ({rate}/s burst {burst}, {name}): admitted vs burst + rate × t"),
            unit: "%".into(),
            value: Measure::Value(100.0 * (admitted as f64 - expected).abs() / expected),
            baseline: None,
            goal: Goal::AtMost(5.0),
            note: format!("absolute deviation; {admitted} admitted vs {expected:.0} allowed over {secs} s, two controllers with separate fred clients, 500 attempts/s each, loopback Redis"),
        });
    }
    let _ = rt.block_on(rk.clean_now());
}

/// Attempts `acquire_now` every 2 ms until `until`; the admitted count.
async fn hammer(ctl: AdmissionController, until: Instant) -> u64 {
    let meta = RequestMeta::new(Priority::Normal);
    let mut ok = 0;
    while Instant::now() < until {
        if ctl.acquire_now(&meta).await.is_ok() {
            ok += 1;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    ok
}

fn main() {
    benches();
    shared_redis_limit();
    load::realtime_load();
    // Same clock on both sides: governor is built with only `std` here (decision 0035), so its
    // default clock is `MonotonicClock`, a `std::time::Instant::now()`; the controller's default
    // `TokioClock` reads `tokio::time::Instant::now()`, which in this build (no tokio
    // `test-util`) is the same `std::time::Instant::now()`. Both sides on the TSC: the
    // perfstack-peers-admission rows.
    let same_clock = "both sides read std::time::Instant::now() once per call (governor built with only `std`: its MonotonicClock; the controller's default TokioClock, no tokio test-util in this build); overhead over a raw governor check in the same run";
    record(&Figure {
        krate: "admission".into(),
        figure: "admitted call (rate + concurrency check, permit drop with latency sample) overhead, same clock as governor (std::time::Instant)".into(),
        unit: "ns".into(),
        value: Measure::CriterionOverhead {
            id: "admission/admitted_call".into(),
            bare: "admission/governor_check".into(),
        },
        baseline: Some(Measure::Criterion("admission/governor_check".into())),
        goal: Goal::AtMost(25.0),
        note: format!("{same_clock}; owned permit dropped on the thread that took it (its Arc reference kept as a thread-local spare); no allocation (tests/no_alloc.rs)"),
    });
    record(&Figure {
        krate: "admission".into(),
        figure: "admitted call with a borrowed permit (try_acquire_ref) overhead, same clock as governor (std::time::Instant)".into(),
        unit: "ns".into(),
        value: Measure::CriterionOverhead {
            id: "admission/admitted_call_ref".into(),
            bare: "admission/governor_check".into(),
        },
        baseline: Some(Measure::Criterion("admission/governor_check".into())),
        goal: Goal::AtMost(25.0),
        note: format!("{same_clock}; a permit that borrows the controller"),
    });
    record(&Figure {
        krate: "admission".into(),
        figure: "admitted call with an owned permit dropped on another thread overhead".into(),
        unit: "ns".into(),
        value: Measure::CriterionOverhead {
            id: "admission/admitted_call_cross_thread".into(),
            bare: "admission/governor_check".into(),
        },
        baseline: Some(Measure::CriterionOverhead {
            id: "admission/admitted_call".into(),
            bare: "admission/governor_check".into(),
        }),
        goal: Goal::Info,
        note: "permits taken here, dropped in batches of 256 on a second thread (as after a tokio work steal): the Arc's two reference-count operations come back; the shared cache lines move once per batch, so a lower bound; baseline: the same-thread owned permit (decision 0036)".into(),
    });
    record(&Figure {
        krate: "admission".into(),
        figure: "concurrency limit around a tower service: admission permit vs tower ConcurrencyLimit".into(),
        unit: "ns".into(),
        value: Measure::CriterionOverhead { id: "admission_tower/admission".into(), bare: "admission_tower/bare".into() },
        baseline: Some(Measure::CriterionOverhead { id: "admission_tower/concurrency_limit".into(), bare: "admission_tower/bare".into() }),
        goal: Goal::Info,
        note: "overheads over a bare service_fn call in one async harness; the tower layers, tower_governor's among them, are compared in perfstack-peers-admission (decision 0035)".into(),
    });
    record(&Figure {
        krate: "admission".into(),
        figure: "GCRA rate check vs raw governor check".into(),
        unit: "ns".into(),
        value: Measure::Criterion("admission/rate_check".into()),
        baseline: Some(Measure::Criterion("admission/governor_check".into())),
        goal: Goal::Info,
        note: "same algorithm and decisions (property-tested), plus peek".into(),
    });
    Criterion::default().configure_from_args().final_summary();
}
