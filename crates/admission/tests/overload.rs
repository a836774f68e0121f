//! Overload signals read real process state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use perfstack_admission::overload::{OverloadSignal, ProcessCpu, ResidentMemory, SchedulerDelay};
use perfstack_admission::{AdmissionController, ConfigError, Priority, RejectReason, RequestMeta};

#[test]
fn resident_memory_reads_procfs() {
    let rss = ResidentMemory::rss_bytes().expect("procfs");
    assert!(rss > 1 << 20, "rss {rss}");
    assert!(ResidentMemory::new(rss / 2).unwrap().pressure() > 1.5);
    assert!(ResidentMemory::new(rss * 100).unwrap().pressure() < 0.1);
    assert!(ResidentMemory::new(0).is_err());
}

/// `VmRSS` (kB) agrees with the page count of `/proc/self/statm` times the real page size.
#[cfg(target_os = "linux")]
#[test]
fn resident_memory_agrees_with_statm_and_the_real_page_size() {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    let from_statm = pages * rustix::param::page_size() as u64;
    let rss = ResidentMemory::rss_bytes().unwrap();
    let (lo, hi) = (rss.min(from_statm) as f64, rss.max(from_statm) as f64);
    assert!(hi / lo < 1.1, "VmRSS {rss} B, statm {from_statm} B");
    assert!((1 << 20..1 << 40).contains(&rss), "rss {rss}");
}

#[test]
fn process_cpu_is_supported_on_linux() {
    assert_eq!(ProcessCpu::supported(), cfg!(target_os = "linux"));
    if cfg!(target_os = "linux") {
        let s = ProcessCpu::cpu_seconds().unwrap();
        assert!((0.0..1e6).contains(&s), "{s}");
    }
}

#[tokio::test]
async fn process_cpu_sees_a_busy_loop() {
    let cpu = ProcessCpu::new(0.01).unwrap();
    assert_eq!(cpu.pressure(), 0.0); // first reading only sets the reference
    let start = std::time::Instant::now();
    let mut x = 0u64;
    while start.elapsed() < Duration::from_millis(200) {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
    }
    assert!(cpu.pressure() > 1.0, "a busy core is above 1 % of the machine");
    assert!(ProcessCpu::new(f64::NAN).is_err());
}

#[tokio::test(flavor = "current_thread")]
async fn scheduler_delay_sees_a_blocked_runtime_and_sheds() {
    let delay = SchedulerDelay::spawn(Duration::from_millis(5), Duration::from_millis(10)).unwrap();
    let ctl = AdmissionController::builder().fixed_limit(10).overload_signal(delay.clone()).build().unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await; // the probe runs
    for _ in 0..5 {
        // Block the only runtime thread: the probe wakes ~100 ms late.
        std::thread::sleep(Duration::from_millis(100));
        tokio::time::sleep(Duration::from_millis(6)).await;
    }
    assert!(delay.delay() > Duration::from_millis(10), "delay {:?}", delay.delay());
    assert!(ctl.refresh_overload() >= 1);
    assert_eq!(ctl.try_acquire(&RequestMeta::new(Priority::Low)).unwrap_err().reason, RejectReason::Overload);
    assert!(ctl.try_acquire(&RequestMeta::new(Priority::Critical)).is_ok());
}

/// A probe spawned outside a tokio runtime is a configuration error, as resilience's
/// `CoarseClock::spawn` is, not a panic inside `tokio::spawn`.
#[test]
fn scheduler_delay_outside_a_runtime_is_an_error() {
    let err = SchedulerDelay::spawn(Duration::from_millis(10), Duration::from_millis(50)).unwrap_err();
    assert_eq!(err, ConfigError::NoRuntime);
    assert_eq!(err.to_string(), "must be created inside a tokio runtime");
}

/// An interval of `Duration::MAX` (or anything above a minute) is refused with a clear error;
/// it used to overflow `now + interval` in the probe task.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn scheduler_delay_refuses_an_interval_of_duration_max() {
    let threshold = Duration::from_millis(50);
    for interval in [Duration::MAX, Duration::from_secs(61)] {
        let err = SchedulerDelay::spawn(interval, threshold).unwrap_err();
        assert!(matches!(err, ConfigError::IntervalTooLong { .. }), "{err:?}");
        assert!(err.to_string().contains("above the maximum 60s"), "{err}");
    }
    assert!(matches!(SchedulerDelay::spawn(Duration::ZERO, threshold).unwrap_err(), ConfigError::Threshold { .. }));
    // The longest accepted interval runs: the probe sleeps a minute, then measures.
    let delay = SchedulerDelay::spawn(Duration::from_secs(60), threshold).unwrap();
    tokio::time::sleep(Duration::from_secs(61)).await;
    assert_eq!(delay.delay(), Duration::ZERO);
}
