//! Limit algorithms: bounds, direction of change, convergence, bad settings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use perfstack_admission::limit::*;
use perfstack_admission::ConfigError;
use proptest::prelude::*;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn all(initial: usize, max: usize) -> Vec<Box<dyn Limit>> {
    vec![
        Box::new(Aimd::new(AimdConfig { initial, max_limit: max, ..AimdConfig::default() }).unwrap()),
        Box::new(Vegas::new(VegasConfig { initial, max_limit: max, ..VegasConfig::default() }).unwrap()),
        Box::new(Gradient2::new(Gradient2Config { initial, max_limit: max, ..Gradient2Config::default() }).unwrap()),
    ]
}

/// A server with `workers` slots and service time `s`: the RTT a window sees at `limit`.
fn rtt_at(limit: usize, workers: usize, s: u64) -> Duration {
    let queue_factor = (limit as f64 / workers as f64).max(1.0);
    Duration::from_secs_f64(s as f64 / 1000.0 * queue_factor)
}

proptest! {
    #[test]
    fn limits_stay_within_bounds(samples in prop::collection::vec((1u64..2000, 0usize..3000, any::<bool>()), 1..300)) {
        for mut l in all(20, 500) {
            for (i, (rtt, inflight, dropped)) in samples.iter().enumerate() {
                let mut s = Sample::new(ms(i as u64 * 100), Duration::from_micros(*rtt * 100), *inflight);
                s.dropped = *dropped;
                let v = l.update(&s);
                prop_assert!((1..=500).contains(&v), "{} gave {}", l.name(), v);
                prop_assert_eq!(v, l.limit());
            }
        }
    }

    #[test]
    fn a_drop_lowers_aimd_and_vegas(limit in 4usize..500, rtt in 1u64..100) {
        let mut a = Aimd::new(AimdConfig { initial: limit, ..AimdConfig::default() }).unwrap();
        let mut v = Vegas::new(VegasConfig { initial: limit, ..VegasConfig::default() }).unwrap();
        for i in 0..2 {
            a.update(&Sample::new(ms(i * 100), ms(rtt), limit));
            v.update(&Sample::new(ms(i * 100), ms(rtt), limit));
        }
        let (la, lv) = (a.limit(), v.limit());
        prop_assert!(a.update(&Sample::new(ms(300), ms(rtt), la).with_drop()) < la.max(2));
        prop_assert!(v.update(&Sample::new(ms(300), ms(rtt), lv).with_drop()) < lv.max(2));
    }

    #[test]
    fn latency_limits_find_the_servers_concurrency(workers in 5usize..200) {
        // AIMD is left out on purpose: its latency baseline never sees the unloaded RTT when it
        // starts above the server's concurrency, so it settles anywhere (docs/admission.md).
        for mut l in all(10, 2000).into_iter().skip(1) {
            let mut limit = l.limit();
            let mut trace = Vec::new();
            for i in 0..400u64 {
                limit = l.update(&Sample::new(ms(i * 100), rtt_at(limit, workers, 10), limit));
                trace.push(limit);
            }
            // After settling, the limit keeps the server busy without a large queue.
            let tail = &trace[300..];
            let mean = tail.iter().sum::<usize>() as f64 / tail.len() as f64;
            prop_assert!(mean >= workers as f64 * 0.8 && mean <= workers as f64 * 3.0 + 12.0,
                "{}: mean limit {} for {} workers", l.name(), mean, workers);
        }
    }
}

#[test]
fn bad_settings_are_refused() {
    assert!(matches!(Aimd::new(AimdConfig { min_limit: 0, ..AimdConfig::default() }), Err(ConfigError::Zero(_))));
    assert!(matches!(
        Aimd::new(AimdConfig { backoff_ratio: f64::NAN, ..AimdConfig::default() }),
        Err(ConfigError::OutOfRange { .. })
    ));
    assert!(matches!(
        Vegas::new(VegasConfig { min_limit: 10, max_limit: 5, initial: 7, ..VegasConfig::default() }),
        Err(ConfigError::Inverted { .. })
    ));
    assert!(matches!(
        Vegas::new(VegasConfig { initial: 5000, ..VegasConfig::default() }),
        Err(ConfigError::InitialOutOfRange { .. })
    ));
    assert!(matches!(
        Vegas::new(VegasConfig { alpha: 7.0, beta: 6.0, ..VegasConfig::default() }),
        Err(ConfigError::OutOfRange { .. })
    ));
    assert!(matches!(
        Gradient2::new(Gradient2Config { smoothing: 0.0, ..Gradient2Config::default() }),
        Err(ConfigError::OutOfRange { .. })
    ));
    assert!(matches!(
        Gradient2::new(Gradient2Config { rtt_tolerance: f64::INFINITY, ..Gradient2Config::default() }),
        Err(ConfigError::OutOfRange { .. })
    ));
    assert!(matches!(
        Gradient2::new(Gradient2Config { queue_size: -1.0, ..Gradient2Config::default() }),
        Err(ConfigError::OutOfRange { .. })
    ));
}

#[test]
fn vegas_baseline_follows_a_slower_service_after_probing() {
    let mut v = Vegas::new(VegasConfig { probe_interval: 10, ..VegasConfig::default() }).unwrap();
    for i in 0..20 {
        v.update(&Sample::new(ms(i * 100), ms(10), 20));
    }
    assert_eq!(v.rtt_noload(), Some(ms(10)));
    // The service becomes 3× slower for good: within two probe periods the baseline follows.
    for i in 20..45 {
        v.update(&Sample::new(ms(i * 100), ms(30), v.limit()));
    }
    assert_eq!(v.rtt_noload(), Some(ms(30)));
}

#[test]
fn application_limited_windows_do_not_grow_the_limit() {
    let mut v = Vegas::new(VegasConfig::default()).unwrap();
    let mut g = Gradient2::new(Gradient2Config::default()).unwrap();
    for i in 0..50 {
        v.update(&Sample::new(ms(i * 100), ms(10), 3));
        g.update(&Sample::new(ms(i * 100), ms(10), 3));
    }
    assert_eq!(v.limit(), 20);
    assert_eq!(g.limit(), 20);
}

/// Extreme windows (in flight and count at their maximum, RTTs of zero and `Duration::MAX`)
/// move every limit within its bounds instead of overflowing: AIMD's growth check computed
/// `max_inflight * 2`, which overflowed (a panic in debug builds).
#[test]
fn extreme_windows_keep_every_limit_within_bounds() {
    let extremes = [
        Sample::new(ms(0), ms(10), usize::MAX),
        Sample::new(ms(100), Duration::MAX, usize::MAX).with_requests(u64::MAX, Duration::MAX),
        Sample::new(ms(200), Duration::ZERO, usize::MAX).with_requests(2, Duration::MAX),
        Sample::new(Duration::MAX, Duration::from_nanos(1), usize::MAX).with_drop(),
    ];
    for mut l in all(20, 500) {
        for round in 0..3 {
            for s in &extremes {
                let v = l.update(s);
                assert!((1..=500).contains(&v), "{} gave {v} in round {round} after {s:?}", l.name());
            }
        }
    }
}

/// The control windows a saturated server with `workers` slots and bimodal service times (90 %
/// at 2 ms, 10 % at 50 ms; mean 6.8 ms) gives a limit: about 15 sampled requests per window
/// per 8 slots served, each window's mean and fastest request from its draws, plus the FIFO
/// wait of the requests the limit admits beyond the slots, `(limit − workers) × 6.8 ms /
/// workers`. Timestamps are explicit (one window per 100 ms).
#[cfg(feature = "sim")]
fn bimodal_windows(l: &mut dyn Limit, workers: usize, windows: u64, seed: u64) -> Vec<usize> {
    let mut rng = perfstack_admission::sim::SplitMix64::new(seed);
    let mean_service = 6.8;
    let mut trace = Vec::new();
    for i in 0..windows {
        let limit = l.limit();
        let served = limit.min(workers);
        let n = (15 * served / 8).max(2);
        let draws: Vec<f64> = (0..n).map(|_| if rng.next_f64() <= 0.1 { 50.0 } else { 2.0 }).collect();
        let wait = limit.saturating_sub(workers) as f64 * mean_service / workers as f64;
        let mean = draws.iter().sum::<f64>() / n as f64;
        let fastest = draws.iter().copied().fold(f64::INFINITY, f64::min);
        let ms = |v: f64| Duration::from_secs_f64(v / 1000.0);
        let s = Sample::new(ms(i as f64 * 100.0), ms(mean + wait), limit).with_requests(n as u64, ms(fastest + wait));
        trace.push(l.update(&s));
    }
    trace
}

/// A window mean of 15 bimodal requests lands anywhere from 2 to 15 ms, and the lowest of a
/// hundred such means (2 ms) is far below the true no-load mean (6.8 ms): taken as the
/// no-load RTT, every ordinary window looked like a queue and AIMD fell to a limit of 1
/// (decision 0038). No limit may collapse below the server's slots, or run away from them.
#[cfg(feature = "sim")]
#[test]
fn bimodal_latency_does_not_collapse_any_limit() {
    for workers in [8, 40] {
        for seed in 1..=4 {
            for mut l in all(20, 1000) {
                let trace = bimodal_windows(&mut *l, workers, 400, seed);
                let tail = &trace[200..];
                let mean = tail.iter().sum::<usize>() as f64 / tail.len() as f64;
                let low = *tail.iter().min().unwrap_or(&0);
                assert!(
                    mean >= workers as f64 && mean <= 8.0 * workers as f64 + 20.0,
                    "{} on {workers} slots, seed {seed}: mean limit {mean:.1} (lowest {low}), last windows {:?}",
                    l.name(),
                    &tail[tail.len() - 20..]
                );
            }
        }
    }
}
