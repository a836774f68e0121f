//! Admission overhead: one admitted call (rate limit + concurrency limit + permit drop) next to
//! a raw `governor` check, in the same run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::num::NonZeroU32;

use criterion::{criterion_group, Criterion};
use governor::{Quota, RateLimiter};
use perfstack_admission::rate::RateLimit;
use perfstack_admission::{AdmissionController, Priority, PriorityShares, RequestMeta};
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
    g.bench_function("admitted_call_ref", |b| b.iter(|| drop(black_box(ctl.try_acquire_ref(&meta).unwrap()))));
    g.finish();
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

fn main() {
    benches();
    record(&Figure {
        krate: "admission".into(),
        figure: "admitted call (rate + concurrency check, permit drop with latency sample) overhead".into(),
        unit: "ns".into(),
        value: Measure::CriterionOverhead {
            id: "admission/admitted_call".into(),
            bare: "admission/governor_check".into(),
        },
        baseline: Some(Measure::Criterion("admission/governor_check".into())),
        goal: Goal::AtMost(25.0),
        note: "owned permit (its Arc reference kept as a thread-local spare, no count change); overhead over a raw governor check in the same run; no allocation (tests/no_alloc.rs)".into(),
    });
    record(&Figure {
        krate: "admission".into(),
        figure: "admitted call with a borrowed permit (try_acquire_ref) overhead".into(),
        unit: "ns".into(),
        value: Measure::CriterionOverhead {
            id: "admission/admitted_call_ref".into(),
            bare: "admission/governor_check".into(),
        },
        baseline: Some(Measure::Criterion("admission/governor_check".into())),
        goal: Goal::AtMost(25.0),
        note: "as above with a permit that borrows the controller".into(),
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
