//! Overload shedding follows its signals even when no admitted traffic closes a window.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use perfstack_admission::clock::ManualClock;
use perfstack_admission::overload::ManualPressure;
use perfstack_admission::*;

const MIN_WINDOW: Duration = Duration::from_millis(100);

fn controller(pressure: &ManualPressure, clock: &ManualClock, sample_every: u32) -> AdmissionController {
    AdmissionController::builder()
        .fixed_limit(100)
        .overload_signal(pressure.clone())
        .clock(Arc::new(clock.clone()))
        .window(MIN_WINDOW, Duration::from_secs(1), 10)
        .sample_every(sample_every)
        .build()
        .unwrap()
}

fn reason(ctl: &AdmissionController, p: Priority) -> Option<RejectReason> {
    ctl.try_acquire(&RequestMeta::new(p)).err().map(|e| e.reason)
}

#[tokio::test(start_paused = true)]
async fn shedding_lifts_without_admitted_traffic_once_the_signal_drops() {
    let (pressure, clock) = (ManualPressure::default(), ManualClock::default());
    let ctl = controller(&pressure, &clock, 8);
    pressure.set(1.5);
    assert_eq!(ctl.refresh_overload(), 4);
    pressure.set(0.0);
    // Only shed levels arrive: every request is refused, no window closes.
    assert_eq!(reason(&ctl, Priority::Low), Some(RejectReason::Overload));
    clock.advance(MIN_WINDOW / 2);
    assert_eq!(reason(&ctl, Priority::Normal), Some(RejectReason::Overload), "read at most once per window");
    clock.advance(MIN_WINDOW / 2);
    assert_eq!(reason(&ctl, Priority::Low), None, "the next shed-level request reads the signals again");
    assert_eq!(ctl.stats().overload_shed_levels, 0);
    assert_eq!(ctl.stats().windows, 0);
}

#[tokio::test(start_paused = true)]
async fn shedding_starts_while_admitted_requests_are_still_running() {
    let (pressure, clock) = (ManualPressure::default(), ManualClock::default());
    let ctl = controller(&pressure, &clock, 1);
    let mut running = vec![ctl.try_acquire(&RequestMeta::new(Priority::High)).unwrap()];
    pressure.set(2.0);
    clock.advance(MIN_WINDOW);
    // No permit has dropped, so no window closed; the sampled admission reads the signals.
    running.push(ctl.try_acquire(&RequestMeta::new(Priority::Critical)).unwrap());
    assert_eq!(ctl.stats().overload_shed_levels, 4);
    assert_eq!(reason(&ctl, Priority::Urgent), Some(RejectReason::Overload));
    assert_eq!(ctl.stats().windows, 0);
    drop(running);
}
