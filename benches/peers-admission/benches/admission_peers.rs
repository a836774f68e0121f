//! The admission tower layer next to the layers a tower user would pick instead, on one bare
//! service, in one run and one build: `tower_governor`'s layer, tower's `ConcurrencyLimit`, and
//! a raw `governor` check with the same quota in front of the same service.
//!
//! Its own package (decision 0035): `tower_governor` turns on governor's default features (the
//! quanta clock), which must not reach the raw governor baseline of `perfstack-benches`. That
//! makes this build the place for the admitted call against a raw governor check with **both
//! sides on the TSC**: governor's default clock here is its `QuantaClock`, and the controller
//! runs on `TscClock`, the same `quanta` read.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::convert::Infallible;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use criterion::{criterion_group, Criterion};
use governor::{Quota, RateLimiter};
use http::{Request, Response};
use perfstack_admission::clock::{Clock, TscClock};
use perfstack_admission::rate::{Gcra, RateLimit};
use perfstack_admission::tower::AdmissionLayer;
use perfstack_admission::{AdmissionController, Priority, PriorityShares, RequestMeta};
use perfstack_benches::{record, Figure, Goal, Measure};
use tower::{Layer, Service, ServiceBuilder, ServiceExt};
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::GlobalKeyExtractor;
use tower_governor::GovernorLayer;

/// 10⁸ per second with a burst of 10⁸ (one cell every 10 ns): never refuses at bench speed.
const PERIOD: Duration = Duration::from_nanos(10);
const BURST: u32 = 100_000_000;

/// Clones the service (as axum does per request), waits for readiness and makes one call.
async fn one_call<S>(mut s: S)
where
    S: Service<Request<()>, Response = Response<Body>>,
    S::Error: std::fmt::Debug,
{
    let res = s.ready().await.unwrap().call(Request::new(())).await.unwrap();
    assert!(res.status().is_success());
}

fn peers(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut g = c.benchmark_group("admission_peers");
    // An empty axum body is a boxed zero-sized type: no allocation in the bare call.
    let bare = tower::service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(Body::empty())) });
    g.bench_function("bare", |b| b.to_async(&rt).iter(|| one_call(bare)));

    let quota = Quota::with_period(PERIOD).unwrap().allow_burst(NonZeroU32::new(BURST).unwrap());
    let gov = RateLimiter::direct(quota);
    g.bench_function("governor_check", |b| {
        b.to_async(&rt).iter(|| {
            // Borrowed: no reference-count operations in the baseline.
            let gov = &gov;
            async move {
                assert!(gov.check().is_ok());
                one_call(bare).await;
            }
        })
    });

    let config = GovernorConfigBuilder::default()
        .period(PERIOD)
        .burst_size(BURST)
        .key_extractor(GlobalKeyExtractor)
        .finish()
        .unwrap();
    let tower_governor = GovernorLayer::new(config).layer(bare);
    g.bench_function("tower_governor", |b| b.to_async(&rt).iter(|| one_call(tower_governor.clone())));

    let limited = ServiceBuilder::new().concurrency_limit(1_000).service(bare);
    g.bench_function("concurrency_limit", |b| b.to_async(&rt).iter(|| one_call(limited.clone())));

    // The same quota as a GCRA rate limit, plus a static concurrency limit with no reserves.
    let ctl = AdmissionController::builder()
        .fixed_limit(1_000)
        .priority_shares(PriorityShares::none())
        .rate_limit(RateLimit::from_quota(quota).unwrap())
        .build()
        .unwrap();
    let admission = AdmissionLayer::new(ctl).queue(false).layer(bare);
    g.bench_function("admission_layer", |b| b.to_async(&rt).iter(|| one_call(admission.clone())));
    g.finish();
}

/// The admitted call against a raw governor check, both reading the TSC through quanta:
/// governor's default `QuantaClock` in this build (`raw()` then `delta_as_nanos`), and the
/// controller and its rate limit on `TscClock` (the same two calls).
fn same_clock_tsc(c: &mut Criterion) {
    let mut g = c.benchmark_group("admission_tsc");
    let quota = Quota::with_period(PERIOD).unwrap().allow_burst(NonZeroU32::new(BURST).unwrap());
    let gov = RateLimiter::direct(quota);
    g.bench_function("governor_check", |b| b.iter(|| black_box(gov.check().is_ok())));
    let tsc: Arc<dyn Clock> = Arc::new(TscClock::new());
    let ctl = AdmissionController::builder()
        .fixed_limit(1_000)
        .priority_shares(PriorityShares::none())
        .clock(Arc::clone(&tsc))
        .rate_limit(RateLimit::with_clock(Gcra::from_quota(quota).unwrap(), tsc))
        .build()
        .unwrap();
    let meta = RequestMeta::new(Priority::Normal);
    g.bench_function("admitted_call", |b| b.iter(|| drop(black_box(ctl.try_acquire(&meta).unwrap()))));
    g.bench_function("admitted_call_ref", |b| b.iter(|| drop(black_box(ctl.try_acquire_ref(&meta).unwrap()))));
    g.finish();
}

criterion_group!(benches, peers, same_clock_tsc);

fn overhead(id: &str) -> Measure {
    Measure::CriterionOverhead { id: format!("admission_peers/{id}"), bare: "admission_peers/bare".into() }
}

fn main() {
    benches();
    let same_run = "overheads over a bare service (axum body) in one async harness, service cloned per call as axum does; perfstack-peers-admission build (governor with tower_governor's features)";
    record(&Figure {
        krate: "admission".into(),
        figure: "tower layer (rate + concurrency limit) vs tower_governor's layer (rate limit), same quota".into(),
        unit: "ns".into(),
        value: overhead("admission_layer"),
        baseline: Some(overhead("tower_governor")),
        goal: Goal::Info,
        note: format!("{same_run}; tower_governor with its global key"),
    });
    record(&Figure {
        krate: "admission".into(),
        figure: "tower layer (rate + concurrency limit) vs tower ConcurrencyLimit".into(),
        unit: "ns".into(),
        value: overhead("admission_layer"),
        baseline: Some(overhead("concurrency_limit")),
        goal: Goal::Info,
        note: same_run.into(),
    });
    record(&Figure {
        krate: "admission".into(),
        figure: "tower_governor's layer vs a raw governor check in front of the same service".into(),
        unit: "ns".into(),
        value: overhead("tower_governor"),
        baseline: Some(overhead("governor_check")),
        goal: Goal::Info,
        note: format!("{same_run}; what a tower user pays for the layer over the limiter it wraps"),
    });
    let tsc = "both sides read the TSC through quanta (governor's default QuantaClock in this build, the controller and its rate limit on TscClock); overhead over a raw governor check in the same run; perfstack-peers-admission build";
    for (id, what) in [("admitted_call", "owned permit"), ("admitted_call_ref", "borrowed permit (try_acquire_ref)")] {
        record(&Figure {
            krate: "admission".into(),
            figure: format!("admitted call, {what}, overhead, same clock as governor (TSC through quanta)"),
            unit: "ns".into(),
            value: Measure::CriterionOverhead {
                id: format!("admission_tsc/{id}"),
                bare: "admission_tsc/governor_check".into(),
            },
            baseline: Some(Measure::Criterion("admission_tsc/governor_check".into())),
            goal: Goal::AtMost(25.0),
            note: tsc.into(),
        });
    }
    Criterion::default().configure_from_args().final_summary();
}
