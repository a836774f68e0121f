#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Config fuzzing (TESTING.md §3): the controller builder, the limit algorithms, the rate
//! limits, the overload signals, the priority shares, the simulation's scenario and the tower
//! layer get the values users pass by mistake; each gives a build error or an object that
//! survives one use, under the testkit's time and memory bounds. Local state only (no Redis).

use std::sync::Arc;
use std::time::Duration;

use perfstack_admission::clock::ManualClock;
use perfstack_admission::limit::{
    Aimd, AimdConfig, FixedLimit, Gradient2, Gradient2Config, Limit, Sample, Vegas, VegasConfig,
};
use perfstack_admission::overload::{ManualPressure, OverloadSignal, ProcessCpu, ResidentMemory, SchedulerDelay};
use perfstack_admission::rate::{Gcra, KeyedRateLimit, RateLimit};
use perfstack_admission::{AdmissionController, Priority, PriorityShares, QueueOrder, RequestMeta};
use perfstack_testkit::fuzz::{
    block_on, durations, f64s, json_floats, names, ratios, u32s, u64s, usizes, BoundedAlloc, Fuzz,
};
use proptest::option::weighted;
use proptest::prelude::*;

#[global_allocator]
static ALLOC: BoundedAlloc = BoundedAlloc::new();

/// How often an optional setter is called.
const SET: f64 = 0.35;

fn priority() -> impl Strategy<Value = Priority> {
    proptest::sample::select(Priority::ALL.to_vec())
}

/// A limit algorithm from fuzzed settings: 0 fixed, 1 AIMD, 2 Vegas, 3 Gradient2.
#[derive(Debug, Clone)]
struct LimitInput {
    kind: u8,
    bounds: (usize, usize, usize),
    ratios: (f64, f64, f64),
    timeout: Duration,
    windows: (u32, u32),
}

fn limit_input() -> impl Strategy<Value = LimitInput> {
    (0_u8..4, (usizes(), usizes(), usizes()), (f64s(), f64s(), ratios()), durations(), (u32s(), u32s()))
        .prop_map(|(kind, bounds, ratios, timeout, windows)| LimitInput { kind, bounds, ratios, timeout, windows })
}

/// Each field is fuzzed with probability one half, else left at its default, so that some
/// configurations are valid.
fn pick<T>(fuzzed: T, default: T, mask: u32, bit: u32) -> T {
    if mask & (1 << bit) != 0 {
        fuzzed
    } else {
        default
    }
}

fn build_limit(l: &LimitInput, mask: u32) -> Result<Box<dyn Limit>, String> {
    let (initial, min, max) = l.bounds;
    let (a, b, r) = l.ratios;
    let (w1, w2) = l.windows;
    match l.kind {
        0 => Ok(Box::new(FixedLimit::new(initial))),
        1 => {
            let mut c = AimdConfig::default();
            c.initial = pick(initial, c.initial, mask, 0);
            c.min_limit = pick(min, c.min_limit, mask, 1);
            c.max_limit = pick(max, c.max_limit, mask, 2);
            c.backoff_ratio = pick(r, c.backoff_ratio, mask, 3);
            c.timeout = pick(l.timeout, c.timeout, mask, 4);
            c.rtt_tolerance = pick(Some(a), c.rtt_tolerance, mask, 5);
            c.probe_interval = pick(w1, c.probe_interval, mask, 6);
            Aimd::new(c).map(|l| Box::new(l) as Box<dyn Limit>).map_err(|e| e.to_string())
        }
        2 => {
            let mut c = VegasConfig::default();
            c.initial = pick(initial, c.initial, mask, 0);
            c.min_limit = pick(min, c.min_limit, mask, 1);
            c.max_limit = pick(max, c.max_limit, mask, 2);
            c.alpha = pick(a, c.alpha, mask, 3);
            c.beta = pick(b, c.beta, mask, 4);
            c.smoothing = pick(r, c.smoothing, mask, 5);
            c.probe_interval = pick(w1, c.probe_interval, mask, 6);
            Vegas::new(c).map(|l| Box::new(l) as Box<dyn Limit>).map_err(|e| e.to_string())
        }
        _ => {
            let mut c = Gradient2Config::default();
            c.initial = pick(initial, c.initial, mask, 0);
            c.min_limit = pick(min, c.min_limit, mask, 1);
            c.max_limit = pick(max, c.max_limit, mask, 2);
            c.smoothing = pick(r, c.smoothing, mask, 3);
            c.rtt_tolerance = pick(a, c.rtt_tolerance, mask, 4);
            c.long_window = pick(w1, c.long_window, mask, 5);
            c.queue_size = pick(b, c.queue_size, mask, 6);
            c.probe_interval = pick(w2, c.probe_interval, mask, 7);
            c.max_long_rtt_ratio = pick(a, c.max_long_rtt_ratio, mask, 8);
            Gradient2::new(c).map(|l| Box::new(l) as Box<dyn Limit>).map_err(|e| e.to_string())
        }
    }
}

#[test]
fn limit_algorithms_refuse_or_stay_within_their_bounds() {
    let samples = proptest::collection::vec((durations(), durations(), usizes(), any::<bool>()), 1..8);
    Fuzz::new("Aimd / Vegas / Gradient2 ::new").cases(192).run(
        (limit_input(), any::<u32>(), samples),
        |(input, mask, samples)| {
            let Ok(mut limit) = build_limit(&input, mask) else { return };
            let _ = limit.name();
            let first = limit.limit();
            assert!(first >= 1, "a limit is at least 1, got {first}");
            for (now, rtt, inflight, dropped) in samples {
                let s = Sample::new(now, rtt, inflight);
                let s = if dropped { s.with_drop() } else { s };
                let next = limit.update(&s);
                assert!(next >= 1, "limit fell to {next} after {s:?}");
                assert_eq!(next, limit.limit());
            }
        },
    );
}

#[derive(Debug, Clone)]
struct ControllerInput {
    name: String,
    limit: Option<(LimitInput, u32)>,
    fixed: Option<usize>,
    queue: Option<(usize, Duration)>,
    order: bool,
    window: Option<(Duration, Duration, u64)>,
    sample_every: Option<u32>,
    shares: Option<[f64; 5]>,
    priority: Priority,
    deadline: Option<Duration>,
}

fn controller_input() -> impl Strategy<Value = ControllerInput> {
    (
        names(),
        weighted(SET, (limit_input(), any::<u32>())),
        weighted(SET, usizes()),
        weighted(SET, (usizes(), durations())),
        any::<bool>(),
        weighted(SET, (durations(), durations(), u64s())),
        weighted(SET, u32s()),
        weighted(SET, [ratios(), ratios(), ratios(), ratios(), ratios()]),
        priority(),
        weighted(SET, durations()),
    )
        .prop_map(|(name, limit, fixed, queue, order, window, sample_every, shares, priority, deadline)| {
            ControllerInput { name, limit, fixed, queue, order, window, sample_every, shares, priority, deadline }
        })
}

/// One use of a controller: admit one request (and report it), hold the whole limit and let
/// one more wait in the queue for a moment (a caller that gives up), then admit again.
async fn use_controller(ctl: &AdmissionController, priority: Priority, deadline: Option<Duration>, fresh: bool) {
    let meta = RequestMeta::new(priority);
    match ctl.acquire(&meta).await {
        Ok(mut permit) => {
            assert_eq!(permit.priority(), priority);
            permit.set_outcome(perfstack_admission::Outcome::Success);
        }
        Err(r) => {
            assert!(!fresh || priority != Priority::Critical, "a fresh controller refused a critical request: {r}");
            let _ = (r.to_string(), r.retry_after_secs(), r.reason.http_status());
        }
    }
    let held: Vec<_> =
        (0..ctl.limit().min(64)).filter_map(|_| ctl.try_acquire(&RequestMeta::new(Priority::Critical)).ok()).collect();
    let waiting = match deadline.and_then(|d| tokio::time::Instant::now().checked_add(d)) {
        Some(at) => RequestMeta::new(priority).deadline(at),
        None => RequestMeta::new(priority),
    };
    let _ = tokio::time::timeout(Duration::from_millis(5), ctl.acquire(&waiting)).await;
    drop(held);
    if let Ok(p) = ctl.try_acquire_ref(&RequestMeta::new(Priority::Critical)) {
        drop(p);
    }
    let _ = (ctl.limit(), ctl.inflight(), ctl.refresh_overload(), ctl.stats());
}

#[test]
fn controller_builder_refuses_or_works() {
    Fuzz::new("AdmissionController::builder").cases(192).run(controller_input(), |c| {
        let mut b = AdmissionController::builder().name(c.name);
        let fresh = c.limit.is_none();
        if let Some((l, mask)) = &c.limit {
            match build_limit(l, *mask) {
                Ok(limit) => b = b.limit(limit),
                Err(_) => return,
            }
        }
        if let Some(n) = c.fixed {
            b = b.fixed_limit(n);
        }
        if let Some((cap, timeout)) = c.queue {
            b = b.queue(cap, timeout);
        }
        b = b.queue_order(if c.order { QueueOrder::Lifo } else { QueueOrder::Fifo });
        if let Some((min, max, samples)) = c.window {
            b = b.window(min, max, samples);
        }
        if let Some(n) = c.sample_every {
            b = b.sample_every(n);
        }
        if let Some(s) = c.shares {
            match PriorityShares::new(s) {
                Ok(shares) => b = b.priority_shares(shares),
                Err(e) => {
                    let _ = e.to_string();
                    return;
                }
            }
        }
        block_on(async {
            match b.build() {
                Ok(ctl) => use_controller(&ctl, c.priority, c.deadline, fresh).await,
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        });
    });
}

#[test]
fn rate_limits_refuse_or_check() {
    let input = (f64s(), u64s(), durations(), usizes(), names(), weighted(SET, (durations(), u32s())));
    Fuzz::new("RateLimit / Gcra / KeyedRateLimit").cases(192).run(
        input,
        |(rate, burst, interval, keys, key, quota)| {
            block_on(async {
                if let Ok(limit) = RateLimit::per_second(rate, burst) {
                    let _ = limit.peek();
                    let _ = limit.check();
                    let _ = limit.gcra().interval_nanos();
                    let ctl = AdmissionController::builder().rate_limit(limit).build().unwrap();
                    let _ = ctl.try_acquire(&RequestMeta::new(Priority::Normal));
                }
                if let Ok(gcra) = Gcra::with_interval(interval, burst) {
                    let limit = RateLimit::with_clock(gcra, Arc::new(ManualClock::default()));
                    let _ = limit.check();
                    let _ = limit.check();
                    let _ = gcra.decide(None, u64::MAX);
                    let _ = gcra.decide(Some(u64::MAX), 0);
                }
                if let Some((period, n)) = quota {
                    let q = governor::Quota::with_period(period)
                        .and_then(|q| std::num::NonZeroU32::new(n).map(|n| q.allow_burst(n)));
                    if let Some(Ok(limit)) = q.map(RateLimit::from_quota) {
                        let _ = limit.check();
                    }
                }
                let keyed = KeyedRateLimit::builder(rate, burst).max_keys(keys).build::<String>();
                if let Ok(keyed) = keyed {
                    let _ = keyed.check(key.as_str());
                    let _ = keyed.check("other");
                    let _ = keyed.peek(key.as_str());
                    assert!(keyed.len() <= keys.max(1));
                    keyed.retain_recent();
                    let ctl = AdmissionController::builder().keyed_rate_limit(keyed).build().unwrap();
                    let _ = ctl.try_acquire(&RequestMeta::new(Priority::Normal).key(&key));
                }
            });
        },
    );
}

#[test]
fn overload_signals_refuse_or_read() {
    let input = (f64s(), u64s(), durations(), durations(), f64s());
    Fuzz::new("ProcessCpu / ResidentMemory / SchedulerDelay / ManualPressure").cases(128).run(
        input,
        |(cpu, rss, interval, threshold, manual)| {
            block_on(async {
                let mut b = AdmissionController::builder().fixed_limit(4);
                if let Ok(s) = ProcessCpu::new(cpu) {
                    let _ = s.pressure();
                    b = b.overload_signal(s);
                }
                if let Ok(s) = ResidentMemory::new(rss) {
                    let _ = s.pressure();
                    b = b.overload_signal(s);
                }
                if let Ok(s) = SchedulerDelay::spawn(interval, threshold) {
                    tokio::time::sleep(Duration::from_millis(3)).await;
                    let _ = (s.pressure(), s.delay());
                    b = b.overload_signal(s);
                }
                let p = ManualPressure::default();
                p.set(manual);
                let _ = p.pressure();
                let ctl = b.overload_signal(p).build().unwrap();
                let _ = ctl.refresh_overload();
                for prio in Priority::ALL {
                    let _ = ctl.try_acquire(&RequestMeta::new(prio));
                }
            });
        },
    );
}

#[test]
fn priority_shares_refuse_or_cap_monotonically() {
    let from_json = (json_floats(), json_floats(), json_floats(), json_floats(), json_floats())
        .prop_map(|(a, b, c, d, e)| format!(r#"{{"reserved":[{a},{b},{c},{d},{e}]}}"#));
    let input = ([ratios(), ratios(), ratios(), ratios(), ratios()], from_json, usizes());
    Fuzz::new("PriorityShares::new / JSON").cases(128).run(input, |(reserved, json, limit)| {
        let mut all = vec![PriorityShares::new(reserved).ok()];
        all.push(serde_json::from_str::<PriorityShares>(&json).ok());
        for shares in all.into_iter().flatten() {
            let caps: Vec<usize> = Priority::ALL.iter().map(|p| shares.cap(*p, limit)).collect();
            assert!(caps.windows(2).all(|w| w[0] <= w[1]), "caps not monotone: {caps:?}");
            assert!(caps.iter().all(|c| *c <= limit.max(1)), "a cap above the limit: {caps:?}");
            for p in Priority::ALL {
                let f = shares.fraction(p);
                assert!((0.0..=1.0).contains(&f), "fraction {f}");
            }
        }
    });
}

#[cfg(feature = "sim")]
mod sim {
    use perfstack_admission::sim::{Scenario, ServiceTime, Strategy as SimStrategy};

    use super::*;

    fn service_time() -> impl Strategy<Value = ServiceTime> {
        prop_oneof![
            (durations(), durations()).prop_map(|(base, extra_mean)| ServiceTime::Exponential { base, extra_mean }),
            (durations(), durations(), ratios()).prop_map(|(fast, slow, slow_share)| ServiceTime::Bimodal {
                fast,
                slow,
                slow_share
            }),
            (durations(), f64s(), durations()).prop_map(|(median, sigma, max)| ServiceTime::LogNormal {
                median,
                sigma,
                max
            }),
            (durations(), f64s(), durations()).prop_map(|(scale, shape, max)| ServiceTime::Pareto {
                scale,
                shape,
                max
            }),
        ]
    }

    #[test]
    fn simulation_scenarios_refuse_or_run() {
        let input = (
            (usizes(), f64s(), durations()),
            weighted(SET, service_time()),
            weighted(SET, usizes()),
            weighted(SET, durations()),
            weighted(SET, durations()),
            weighted(SET, [ratios(), ratios(), ratios(), ratios(), ratios()]),
            weighted(SET, (usizes(), durations())),
            u64s(),
        );
        Fuzz::new("sim::Scenario").cases(128).run(
            input,
            |((n, load, duration), service, workers, warmup, deadline, mix, queue, seed)| {
                let mut sc = Scenario::constant(SimStrategy::Static(n), load, duration);
                if let Some(s) = service {
                    sc.server.service = s;
                }
                if let Some(w) = workers {
                    sc.server.workers = w;
                }
                if let Some(w) = warmup {
                    sc.warmup = w;
                }
                if let Some(d) = deadline {
                    sc.deadline = d;
                }
                if let Some(m) = mix {
                    sc.mix = m;
                }
                sc.queue = queue.map(|(cap, timeout)| (cap, timeout, QueueOrder::Fifo));
                sc.seed = seed;
                if sc.validate().is_err() {
                    return;
                }
                let _ = (sc.server.capacity(), sc.server.mean_service(), sc.duration());
                let expected = sc.server.capacity() * load * sc.duration().as_secs_f64();
                // One use: run it when it is small (a day of virtual time is valid but not "one use").
                if sc.duration() <= Duration::from_secs(1) && expected <= 2_000.0 {
                    let rt =
                        tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
                    if let Ok(report) = rt.block_on(perfstack_admission::sim::run(&sc)) {
                        let _ = (report.goodput(), report.shed_ratio());
                    }
                }
            },
        );
    }
}

#[cfg(feature = "tower")]
mod layer {
    use std::convert::Infallible;

    use http::{HeaderName, HeaderValue, Request, Response};
    use perfstack_admission::tower::AdmissionLayer;
    use tower::{Layer, ServiceExt};

    use super::*;

    #[test]
    fn admission_layer_with_fuzzed_headers_answers_one_request() {
        let input = (names(), names(), names(), priority(), any::<bool>(), usizes());
        Fuzz::new("AdmissionLayer").cases(128).run(input, |(header, key_header, value, default, queue, limit)| {
            block_on(async {
                let ctl = AdmissionController::builder().fixed_limit(limit).build();
                let Ok(ctl) = ctl else { return };
                let mut layer = AdmissionLayer::new(ctl).default_priority(default).queue(queue);
                if let Ok(h) = HeaderName::try_from(header.as_str()) {
                    layer = layer.priority_header(h);
                }
                if let Ok(h) = HeaderName::try_from(key_header.as_str()) {
                    layer = layer.key_header(h);
                }
                let svc = layer.layer(tower::service_fn(|_req: Request<String>| async {
                    Ok::<_, Infallible>(Response::new(String::from("ok")))
                }));
                let mut req = Request::new(String::new());
                if let (Ok(v), Ok(name)) = (HeaderValue::from_str(&value), HeaderName::try_from(header.as_str())) {
                    req.headers_mut().insert(name, v);
                }
                let response = svc.oneshot(req).await.unwrap();
                assert!([200, 429, 503].contains(&response.status().as_u16()), "{}", response.status());
            });
        });
    }
}

/// The known bad inputs reported to the admission crate, kept as explicit cases.
mod known {
    use super::*;

    #[test]
    fn scheduler_delay_spawned_outside_a_runtime() {
        Fuzz::new("SchedulerDelay::spawn").check((Duration::from_millis(10), Duration::from_millis(50)), |(i, t)| {
            // A build error (no runtime) or a probe, never a panic.
            if let Ok(s) = SchedulerDelay::spawn(i, t) {
                let _ = s.pressure();
            }
        });
    }

    #[test]
    fn scheduler_delay_with_an_interval_of_duration_max() {
        Fuzz::new("SchedulerDelay::spawn").check((Duration::MAX, Duration::from_millis(50)), |(i, t)| {
            block_on(async {
                if let Ok(s) = SchedulerDelay::spawn(i, t) {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    let _ = s.pressure();
                }
            });
        });
    }
}
