#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every metric the crate registers follows `perfstack_resilience_<what>_<unit>` with a `name`
//! label, and the README's metric table lists exactly the names registered.

use std::future::ready;
use std::time::Duration;

use perfstack_resilience::backoff::Constant;
use perfstack_resilience::{
    AdaptiveThrottle, Bulkhead, CircuitBreaker, DegradationManager, Error, Fallback, Hedge, HedgeDelay, ManualClock,
    Retry, RetryBudget, Timeout,
};
use perfstack_testkit::metric_names::{capture, check, Registered};

/// Runs every part so that it registers each of its metrics.
fn register_every_metric() -> Vec<Registered> {
    capture(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        let clock = ManualClock::new();

        // The breaker: its state gauge when built, a transition when it trips, a rejection.
        let breaker =
            CircuitBreaker::builder("orders").count_window(2).minimum_calls(2).clock(clock.clone()).build().unwrap();
        breaker.try_acquire().unwrap().failure();
        breaker.try_acquire().unwrap().failure();
        assert!(breaker.try_acquire().is_err());

        let budget =
            RetryBudget::builder().name("orders").ratio(0.0).min_per_second(0).clock(clock.clone()).build().unwrap();
        assert!(!budget.try_withdraw());

        let retry = Retry::builder("orders").max_attempts(2).backoff(Constant::new(Duration::from_millis(1))).build();
        let mut n = 0;
        let r = rt.block_on(retry.unwrap().call(|| {
            n += 1;
            ready(if n == 1 { Err(()) } else { Ok(()) })
        }));
        assert!(r.is_ok());

        let bulkhead = Bulkhead::builder("orders").max_concurrent(1).build().unwrap();
        let _held = bulkhead.try_acquire().unwrap();
        assert!(rt.block_on(bulkhead.call(async { Ok::<_, ()>(()) })).is_err());

        let timeout = Timeout::new(Duration::from_millis(1)).unwrap().with_name("orders");
        let slow = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, ()>(())
        };
        assert!(matches!(rt.block_on(timeout.call(slow)), Err(Error::Timeout(_))));

        let hedge =
            Hedge::builder(HedgeDelay::Fixed { delay: Duration::from_millis(1) }).name("orders").build().unwrap();
        let r = rt.block_on(hedge.call(|| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok::<_, ()>(())
        }));
        assert!(r.is_ok() && hedge.stats().backups == 1);

        let throttle = AdaptiveThrottle::builder().name("orders").clock(clock.clone()).build().unwrap();
        for _ in 0..1_000 {
            throttle.record(false);
        }
        assert!((0..1_000).any(|_| !throttle.try_admit()), "a backend refusing everything gets throttled");

        let fallback = Fallback::value(1).with_name("orders");
        assert_eq!(rt.block_on(fallback.call(async { Err(Error::<()>::Throttled) })).unwrap(), 1);

        let levels =
            DegradationManager::builder().name("orders").level("degraded", 0.5, 0.3, ["x"]).clock(clock).build();
        levels.unwrap().set_signal("error_rate", 0.9);
    })
}

/// The metric names in the README's metric table.
fn documented() -> Vec<String> {
    let mut names: Vec<String> = include_str!("../README.md")
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .filter(|name| name.starts_with("perfstack_"))
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

#[test]
fn every_metric_follows_the_naming_rule() {
    let registered = register_every_metric();
    if let Err(violations) = check("resilience", &registered) {
        let lines: Vec<String> = violations.iter().map(ToString::to_string).collect();
        panic!("metric names break the rule:\n{}", lines.join("\n"));
    }
}

#[test]
fn the_readme_lists_exactly_the_registered_metrics() {
    let registered: Vec<String> = register_every_metric().into_iter().map(|r| r.name).collect();
    assert_eq!(registered.len(), 11, "every metric of the crate is registered: {registered:?}");
    assert_eq!(registered, documented());
}
