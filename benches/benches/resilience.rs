//! perfstack-resilience benches: closed-breaker overhead against a bare call, the retry-budget
//! check, a four-policy pipeline, the same policies as tower layers next to `tower-resilience`
//! 0.13 in the same run, and the hedge layer next to the hedge called directly. The
//! retry-amplification simulation (paused tokio time) is in
//! `benches/sims/benches/resilience_sim.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, missing_docs)]

use std::convert::Infallible;
use std::future::{poll_fn, ready, Future};
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, Criterion};
use futures::FutureExt;
use perfstack_benches::{record, Figure, Goal, Measure};
use perfstack_resilience::backoff::Exponential;
use perfstack_resilience::tower::{BreakerLayer, BulkheadLayer, HedgeLayer, RetryLayer};
use perfstack_resilience::{
    Bulkhead, CircuitBreaker, CoarseClock, Hedge, HedgeDelay, Pipeline, Retry, RetryBudget, Timeout,
};
use tower::{Layer, Service};

#[inline(never)]
fn downstream(x: u64) -> Result<u64, Infallible> {
    Ok(black_box(x).wrapping_mul(31))
}

fn breaker() -> CircuitBreaker {
    CircuitBreaker::builder("bench").count_window(100).minimum_calls(20).build().unwrap()
}

/// Polls a future that completes without waiting (the services here all answer at once).
fn now<F: Future>(f: F) -> F::Output {
    f.now_or_never().expect("bench future must complete at once")
}

fn call_svc<S: Service<u64>>(svc: &mut S, x: u64) -> Result<S::Response, S::Error> {
    now(poll_fn(|cx| svc.poll_ready(cx)))?;
    now(svc.call(x))
}

fn bench_breaker(c: &mut Criterion) {
    let b = breaker();
    let mut g = c.benchmark_group("breaker");
    g.bench_function("bare", |bn| {
        let mut x = 0u64;
        bn.iter(|| {
            x += 1;
            black_box(downstream(x))
        })
    });
    g.bench_function("closed", |bn| {
        let mut x = 0u64;
        bn.iter(|| {
            x += 1;
            black_box(b.call_sync(|| downstream(x)))
        })
    });
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let _guard = rt.enter();
    let timed = CircuitBreaker::builder("bench-time")
        .time_window(Duration::from_secs(10), 10)
        .slow_calls(Duration::from_secs(1), 100.0)
        .build()
        .unwrap();
    g.bench_function("closed_time_window", |bn| {
        let mut x = 0u64;
        bn.iter(|| {
            x += 1;
            black_box(timed.call_sync(|| downstream(x)))
        })
    });
    let coarse = CircuitBreaker::builder("bench-coarse")
        .time_window(Duration::from_secs(10), 10)
        .slow_calls(Duration::from_secs(1), 100.0)
        .clock(CoarseClock::spawn(Duration::from_millis(1)).unwrap())
        .build()
        .unwrap();
    g.bench_function("closed_time_window_coarse", |bn| {
        let mut x = 0u64;
        bn.iter(|| {
            x += 1;
            black_box(coarse.call_sync(|| downstream(x)))
        })
    });
    let open = breaker();
    open.force_open();
    g.bench_function("open_reject", |bn| bn.iter(|| black_box(open.call_sync(|| downstream(1)).is_err())));
    g.bench_function("permit", |bn| {
        let mut x = 0u64;
        bn.iter(|| {
            x += 1;
            let p = b.try_acquire().unwrap();
            let r = downstream(x);
            p.success();
            black_box(r)
        })
    });
    g.finish();
}

/// The budget's reserve in the budget benches: the largest `build()` accepts (10⁹ reserved per
/// default 10 s window), so a withdrawal always succeeds and the measured path is that one.
const MIN_PER_SECOND: u32 = 100_000_000;

fn bench_budget(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let _guard = rt.enter();
    // A reserve so large the withdrawal always succeeds: the measured path is the successful one.
    let tokio_clock = RetryBudget::builder().ratio(1.0).min_per_second(MIN_PER_SECOND).build().unwrap();
    let coarse = CoarseClock::spawn(Duration::from_millis(1)).unwrap();
    let budget = RetryBudget::builder().ratio(1.0).min_per_second(MIN_PER_SECOND).clock(coarse).build().unwrap();
    let mut g = c.benchmark_group("budget");
    g.bench_function("deposit", |bn| bn.iter(|| budget.deposit()));
    g.bench_function("try_withdraw", |bn| bn.iter(|| black_box(budget.try_withdraw())));
    g.bench_function("deposit_tokio_clock", |bn| bn.iter(|| tokio_clock.deposit()));
    g.bench_function("try_withdraw_tokio_clock", |bn| bn.iter(|| black_box(tokio_clock.try_withdraw())));
    g.bench_function("tokio_instant_now", |bn| bn.iter(|| black_box(tokio::time::Instant::now())));
    g.finish();
}

fn tower_bare(
) -> impl Service<u64, Response = u64, Error = Infallible, Future = std::future::Ready<Result<u64, Infallible>>> + Clone
{
    tower::service_fn(|x: u64| ready(downstream(x)))
}

fn bench_tower(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let _guard = rt.enter();

    let mut g = c.benchmark_group("breaker_tower");
    let mut bare = tower_bare();
    g.bench_function("bare", |bn| bn.iter(|| black_box(call_svc(&mut bare, 7))));
    let mut ours = BreakerLayer::new(breaker()).layer(tower_bare());
    g.bench_function("ours", |bn| bn.iter(|| black_box(call_svc(&mut ours, 7).is_ok())));
    let theirs_layer = tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
        .failure_rate_threshold(0.5)
        .sliding_window_size(100)
        .minimum_number_of_calls(20)
        .build()
        .unwrap();
    let mut theirs = theirs_layer.layer(tower_bare());
    g.bench_function("tower_resilience", |bn| bn.iter(|| black_box(call_svc(&mut theirs, 7).is_ok())));
    g.finish();

    let mut g = c.benchmark_group("retry_tower");
    g.bench_function("bare", |bn| bn.iter(|| black_box(call_svc(&mut bare, 7))));
    let retry = Retry::builder("bench")
        .max_attempts(3)
        .backoff(Exponential::new(Duration::from_millis(10), Duration::from_secs(1)))
        .build()
        .unwrap();
    let mut ours = RetryLayer::new(retry.clone()).layer(tower_bare());
    g.bench_function("ours", |bn| bn.iter(|| black_box(call_svc(&mut ours, 7))));
    let theirs_layer = tower_resilience::retry::RetryLayer::<u64, u64, Infallible>::builder()
        .max_attempts(3)
        .exponential_backoff(Duration::from_millis(10))
        .build();
    let mut theirs = theirs_layer.layer(tower_bare());
    g.bench_function("tower_resilience", |bn| bn.iter(|| black_box(call_svc(&mut theirs, 7))));
    g.bench_function("ours_direct", |bn| bn.iter(|| black_box(now(retry.call(|| ready(downstream(7)))))));
    g.finish();

    // The hedge's happy path: the first call answers before the hedge delay (the delay's timer
    // entry is made and dropped), through the layer and on the policy directly.
    let mut g = c.benchmark_group("hedge_tower");
    g.bench_function("bare", |bn| bn.iter(|| black_box(call_svc(&mut bare, 7))));
    let hedge = Hedge::builder(HedgeDelay::Fixed { delay: Duration::from_millis(10) }).build().unwrap();
    let mut ours = HedgeLayer::new(hedge.clone()).layer(tower_bare());
    g.bench_function("ours", |bn| bn.iter(|| black_box(call_svc(&mut ours, 7))));
    g.bench_function("ours_direct", |bn| bn.iter(|| black_box(now(hedge.call(|| ready(downstream(7)))))));
    g.finish();

    let mut g = c.benchmark_group("bulkhead_tower");
    g.bench_function("bare", |bn| bn.iter(|| black_box(call_svc(&mut bare, 7))));
    let bulkhead = Bulkhead::builder("bench").max_concurrent(64).build().unwrap();
    let mut ours = BulkheadLayer::new(bulkhead.clone()).layer(tower_bare());
    g.bench_function("ours", |bn| bn.iter(|| black_box(call_svc(&mut ours, 7).is_ok())));
    let theirs_layer = tower_resilience::bulkhead::BulkheadLayer::builder().max_concurrent_calls(64).build().unwrap();
    let mut theirs = theirs_layer.layer(tower_bare());
    g.bench_function("tower_resilience", |bn| bn.iter(|| black_box(call_svc(&mut theirs, 7).is_ok())));
    g.bench_function("ours_direct", |bn| {
        bn.iter(|| {
            let _slot = bulkhead.try_acquire().unwrap();
            black_box(downstream(7))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("pipeline");
    g.bench_function("bare", |bn| bn.iter(|| black_box(now(async { downstream(7) }))));
    let p = Pipeline::builder()
        .retry(retry)
        .breaker(breaker())
        .bulkhead(Bulkhead::builder("p").max_concurrent(64).build().unwrap())
        .timeout(Timeout::new(Duration::from_secs(1)).unwrap())
        .build();
    g.bench_function("four_policies", |bn| bn.iter(|| black_box(now(p.call(|| ready(downstream(7)))).is_ok())));
    g.finish();
}

fn figures() {
    let fig = |figure: &str, unit: &str, value: Measure, baseline: Option<Measure>, goal: Goal, note: &str| {
        record(&Figure {
            krate: "resilience".into(),
            figure: figure.into(),
            unit: unit.into(),
            value,
            baseline,
            goal,
            note: note.into(),
        })
    };
    fig(
        "closed circuit-breaker call overhead",
        "ns",
        Measure::CriterionOverhead { id: "breaker/closed".into(), bare: "breaker/bare".into() },
        Some(Measure::Criterion("breaker/bare".into())),
        Goal::AtMost(50.0),
        "breaker.call_sync around a bare function, minus the bare call (count window, single thread)",
    );
    fig(
        "closed breaker, time window + slow calls (two tokio clock reads)",
        "ns",
        Measure::CriterionOverhead { id: "breaker/closed_time_window".into(), bare: "breaker/bare".into() },
        Some(Measure::CriterionOverhead {
            id: "breaker/closed_time_window_coarse".into(),
            bare: "breaker/bare".into(),
        }),
        Goal::Info,
        "baseline column: the same on CoarseClock (1 ms)",
    );
    fig(
        "refused call on an open breaker (fast fail)",
        "ns",
        Measure::Criterion("breaker/open_reject".into()),
        Some(Measure::Criterion("breaker/bare".into())),
        Goal::Info,
        "includes the rejected-calls counter (metrics facade, no recorder installed)",
    );
    fig(
        "retry-budget check (successful try_withdraw, CoarseClock 1 ms)",
        "ns",
        Measure::Criterion("budget/try_withdraw".into()),
        Some(Measure::Criterion("budget/deposit".into())),
        Goal::AtMost(20.0),
        "baseline column: the per-request deposit",
    );
    fig(
        "retry-budget check with the default tokio clock",
        "ns",
        Measure::Criterion("budget/try_withdraw_tokio_clock".into()),
        Some(Measure::Criterion("budget/tokio_instant_now".into())),
        Goal::Info,
        "baseline column: one tokio::time::Instant::now() (most of the cost)",
    );
    fig(
        "four-policy pipeline overhead (retry, breaker, bulkhead, timeout)",
        "ns",
        Measure::CriterionOverhead { id: "pipeline/four_policies".into(), bare: "pipeline/bare".into() },
        Some(Measure::Criterion("pipeline/bare".into())),
        Goal::Info,
        "happy path, polled once without a runtime scheduler",
    );
    fig(
        "hedge happy path as a tower layer vs the policy called directly",
        "ns",
        Measure::Criterion("hedge_tower/ours".into()),
        Some(Measure::Criterion("hedge_tower/ours_direct".into())),
        Goal::Info,
        "the first call answers before the 10 ms delay; the layer boxes its race (decision 0015)",
    );
    for (group, what) in
        [("breaker_tower", "closed breaker"), ("retry_tower", "retry happy path"), ("bulkhead_tower", "bulkhead")]
    {
        fig(
            &format!("{what} as a tower layer vs tower-resilience 0.13"),
            "ns",
            Measure::Criterion(format!("{group}/ours")),
            Some(Measure::Criterion(format!("{group}/tower_resilience"))),
            Goal::RatioAtMost(1.0),
            "same bare service, same settings, same run; a ratio below 1 means faster",
        );
    }
}

criterion_group!(benches, bench_breaker, bench_budget, bench_tower);

fn main() {
    figures();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
