//! The open-loop load helper keeps its schedule and measures from the scheduled start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use perfstack_testkit::load::{Arrivals, LoadError, OpenLoop};
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// The report's histogram keeps three significant figures: equal within 0.1 %.
#[track_caller]
fn assert_close(measured: Duration, expected: Duration) {
    let diff = measured.abs_diff(expected);
    assert!(diff <= expected / 1000, "measured {measured:?}, expected {expected:?}");
}

#[tokio::test(start_paused = true)]
async fn requests_start_on_schedule_whatever_earlier_ones_do() {
    let start = Instant::now();
    let starts = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = Arc::clone(&starts);
    let report = OpenLoop::new(100.0)
        .max_requests(10)
        .run(move |i| {
            s.lock().unwrap().push((i, Instant::now() - start));
            async move {
                // Each request takes far longer than the 10 ms gap: a closed loop would slow down.
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok::<(), Infallible>(())
            }
        })
        .await
        .unwrap();
    let starts = starts.lock().unwrap().clone();
    let expected: Vec<(u64, Duration)> = (0..10).map(|i| (i, Duration::from_millis(i * 10))).collect();
    assert_eq!(starts, expected);
    assert_eq!(report.ok, 10);
    assert_close(report.p50(), Duration::from_millis(50));
    assert_close(report.max(), Duration::from_millis(50));
    assert_eq!(report.max_dispatch_lag, Duration::ZERO);
    // Last start at 90 ms + 50 ms of work.
    assert_eq!(report.elapsed, Duration::from_millis(140));
}

#[tokio::test(start_paused = true)]
async fn queueing_behind_a_slow_server_shows_in_the_latency() {
    // A server that handles one request at a time, 20 ms each; arrivals every 10 ms.
    let server = Arc::new(Semaphore::new(1));
    let report = OpenLoop::new(100.0)
        .max_requests(10)
        .run(move |_| {
            let server = Arc::clone(&server);
            async move {
                let _permit = server.acquire_owned().await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok::<(), Infallible>(())
            }
        })
        .await
        .unwrap();
    // Request k finishes at 20(k+1) ms and was scheduled at 10k ms: latency 10k + 20 ms.
    // Measured from the scheduled start, the last one waited 110 ms, not 20 ms.
    assert_close(report.max(), Duration::from_millis(110));
    assert_close(report.percentile(0.0), Duration::from_millis(20));
    assert_eq!(report.ok, 10);
}

#[tokio::test(start_paused = true)]
async fn runs_are_bounded_in_count_time_and_concurrency() {
    let report = OpenLoop::new(1_000.0)
        .max_requests(1_000_000)
        .max_duration(Duration::from_millis(100))
        .max_in_flight(5)
        .drain(Duration::from_millis(30))
        .run(|_| async {
            // Never finishes on its own: the drain bound must end the run.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok::<(), Infallible>(())
        })
        .await
        .unwrap();
    assert_eq!(report.scheduled, 100);
    assert_eq!(report.dropped, 95);
    assert_eq!(report.timed_out, 5);
    assert_eq!(report.completed(), 0);
    assert_eq!(report.elapsed, Duration::from_millis(99 + 30));
}

#[tokio::test(start_paused = true)]
async fn errors_are_counted_apart_from_successes() {
    let report = OpenLoop::new(1_000.0)
        .arrivals(Arrivals::Poisson { seed: 3 })
        .max_requests(100)
        .run(|i| async move {
            if i % 4 == 0 {
                Err("boom")
            } else {
                Ok(())
            }
        })
        .await
        .unwrap();
    assert_eq!(report.errors, 25);
    assert_eq!(report.ok, 75);
}

#[tokio::test]
async fn invalid_settings_are_refused() {
    let noop = |_| async { Ok::<(), Infallible>(()) };
    assert!(matches!(OpenLoop::new(f64::NAN).run(noop).await, Err(LoadError::InvalidRate(r)) if r.is_nan()));
    assert!(matches!(OpenLoop::new(0.0).run(noop).await, Err(LoadError::InvalidRate(_))));
    assert!(matches!(OpenLoop::new(-5.0).schedule(), Err(LoadError::InvalidRate(_))));
    assert!(matches!(OpenLoop::new(10.0).max_requests(0).schedule(), Err(LoadError::ZeroBound("max_requests"))));
    assert!(matches!(OpenLoop::new(10.0).max_in_flight(0).schedule(), Err(LoadError::ZeroBound("max_in_flight"))));
}
