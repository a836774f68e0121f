//! Unit tests of the history checker: each documented rule on a hand-written history.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tokio::time::Instant;

use super::{Checker, History, Op, Report, Violation};

// The fast checker against the rules applied literally, in O(n²), on generated histories.
mod reference;

/// Instants as milliseconds after one origin.
struct Clock(Instant);

impl Clock {
    fn new() -> Self {
        Self(Instant::now())
    }
    fn ms(&self, n: u64) -> Instant {
        self.0 + Duration::from_millis(n)
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn checker_and_report_are_send_sync() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<Checker>();
    assert_send_sync::<Report>();
    assert_send_sync::<Violation>();
    assert_send_sync::<Op>();
}

#[test]
fn the_writer_must_see_its_returned_write_at_once() {
    let t = Clock::new();
    let h = History::new();
    h.write(0, "k", 1, t.ms(0), t.ms(5));
    h.read(0, "k", Some(0), t.ms(5), t.ms(6)); // started as the write returned
    h.read(0, "k", Some(1), t.ms(7), t.ms(8));

    // A long propagation bound does not apply to the writer itself.
    let report = Checker::new().propagation(ms(1000)).check(&h);
    assert_eq!(report.stale.len(), 1, "{report}");
    let v = &report.stale[0];
    assert_eq!((v.key.as_str(), v.instance, v.returned, v.expected_at_least), ("k", 0, 0, 1));
    assert_eq!((v.write_instance, v.write_end, v.read_start), (0, t.ms(5), t.ms(5)));
    assert_eq!((report.reads, report.writes, report.errors), (2, 1, 0));
}

#[test]
fn another_instance_is_stale_only_past_the_bound() {
    let t = Clock::new();
    let h = History::new();
    h.write(0, "k", 1, t.ms(0), t.ms(5));
    h.read(1, "k", Some(0), t.ms(14), t.ms(16)); // 9 ms after the write returned: allowed
    h.read(1, "k", Some(0), t.ms(15), t.ms(16)); // 10 ms: the bound has passed

    let report = Checker::new().propagation(ms(10)).check(&h);
    assert_eq!(report.stale.len(), 1, "{report}");
    assert_eq!(report.stale[0].read_start, t.ms(15));
    assert_eq!(report.stale[0].write_instance, 0);
    // With the default bound 0 both are stale.
    assert_eq!(Checker::new().check(&h).stale.len(), 2);
}

#[test]
fn a_read_concurrent_with_a_write_may_return_either_version() {
    let t = Clock::new();
    let h = History::new();
    h.write(0, "k", 1, t.ms(0), t.ms(10));
    h.read(0, "k", Some(0), t.ms(2), t.ms(12));
    h.read(0, "k", Some(1), t.ms(3), t.ms(4));
    h.read(1, "k", Some(0), t.ms(9), t.ms(9));
    assert!(Checker::new().check(&h).is_ok());
}

#[test]
fn overlapping_writes_allow_either_order() {
    let t = Clock::new();
    let h = History::new();
    h.write(0, "k", 1, t.ms(0), t.ms(10));
    h.write(1, "k", 2, t.ms(5), t.ms(15));
    h.read(0, "k", Some(1), t.ms(20), t.ms(21)); // v1 may be linearised after v2
    h.read(1, "k", Some(2), t.ms(20), t.ms(21));
    assert!(Checker::new().check(&h).is_ok());

    // A write starting at the very instant v1 returned may still have run before it.
    h.write(1, "k", 4, t.ms(10), t.ms(11));
    h.read(0, "k", Some(1), t.ms(25), t.ms(26));
    assert!(Checker::new().check(&h).is_ok());

    // Once a write starts after v1 ended, v1 is too old.
    h.write(0, "k", 3, t.ms(30), t.ms(31));
    h.read(1, "k", Some(1), t.ms(40), t.ms(41));
    let report = Checker::new().check(&h);
    assert_eq!(report.stale.len(), 1, "{report}");
    assert_eq!((report.stale[0].returned, report.stale[0].expected_at_least), (1, 3));
}

#[test]
fn writes_in_sequence_make_the_older_version_stale() {
    let t = Clock::new();
    let h = History::new();
    h.write(0, "k", 1, t.ms(0), t.ms(4));
    h.write(1, "k", 2, t.ms(5), t.ms(15));
    h.read(0, "k", Some(1), t.ms(20), t.ms(21));
    let report = Checker::new().check(&h);
    assert_eq!(report.stale.len(), 1, "{report}");
    assert_eq!(report.stale[0].expected_at_least, 2);
    assert_eq!(report.stale[0].write_instance, 1);
}

#[test]
fn the_largest_missed_write_is_reported() {
    let t = Clock::new();
    let h = History::new();
    h.write(2, "k", 3, t.ms(4), t.ms(5));
    h.write(0, "k", 1, t.ms(0), t.ms(1));
    h.write(1, "k", 2, t.ms(2), t.ms(3));
    h.read(0, "k", Some(0), t.ms(10), t.ms(11));
    h.read(0, "k", Some(1), t.ms(10), t.ms(11));
    let report = Checker::new().check(&h);
    let found: Vec<_> = report.stale.iter().map(|v| (v.returned, v.expected_at_least, v.write_instance)).collect();
    assert_eq!(found, vec![(0, 3, 2), (1, 3, 2)]);
}

#[test]
fn relaxed_windows_lengthen_the_bound_for_reads_starting_inside() {
    let t = Clock::new();
    let h = History::new();
    h.write(0, "k", 1, t.ms(1000), t.ms(1000));
    h.read(1, "k", Some(0), t.ms(1040), t.ms(1041)); // window 1: 50 ms allowed
    h.read(1, "k", Some(0), t.ms(1120), t.ms(1121)); // windows 1 and 2: the larger, 200 ms
    h.read(1, "k", Some(0), t.ms(1150), t.ms(1151)); // window 2 ends at 1150: 10 ms again
    h.read(0, "k", Some(0), t.ms(1001), t.ms(1002)); // the writer: 0 even inside a window

    let report = Checker::new()
        .propagation(ms(10))
        .relaxed(t.ms(1000), t.ms(1130), ms(50))
        .relaxed(t.ms(1100), t.ms(1150), ms(200))
        .relaxed(t.ms(0), t.ms(5000), ms(1)) // smaller than the propagation bound: no effect
        .check(&h);
    let starts: Vec<_> = report.stale.iter().map(|v| (v.instance, v.read_start)).collect();
    assert_eq!(starts, vec![(0, t.ms(1001)), (1, t.ms(1150))], "{report}");
    assert_eq!(report.stale_after(t.ms(1100)), 1);
    assert_eq!(report.last_stale_start_after(t.ms(1000)), Some(t.ms(1150)));

    // Without the windows the first two reads are stale as well.
    assert_eq!(Checker::new().propagation(ms(10)).check(&h).stale.len(), 4);
}

#[test]
fn reads_of_values_never_written_or_from_the_future_are_impossible() {
    let t = Clock::new();
    let h = History::new();
    h.read(0, "k", Some(7), t.ms(0), t.ms(1)); // never written
    h.read(0, "k", Some(1), t.ms(2), t.ms(3)); // written only after the read ended
    h.write(1, "k", 1, t.ms(4), t.ms(5));
    h.read(0, "k", Some(2), t.ms(6), t.ms(8)); // its write started as the read ended: fine
    h.write(1, "k", 2, t.ms(8), t.ms(9));
    h.read(0, "j", Some(1), t.ms(6), t.ms(7)); // v1 of another key

    let report = Checker::new().check(&h);
    assert!(report.stale.is_empty(), "{report}");
    let found: Vec<_> = report
        .impossible
        .iter()
        .map(|v| (v.key.as_str(), v.returned, v.expected_at_least, v.write_instance, v.write_end))
        .collect();
    assert_eq!(found, vec![("k", 7, 0, 0, t.ms(1)), ("k", 1, 0, 1, t.ms(5)), ("j", 1, 0, 0, t.ms(7))]);
    assert!(!report.is_ok());
    let text = report.to_string();
    assert!(text.contains("returned v1, written only after the read ended (by instance 1)"), "{text}");
}

#[test]
fn reads_of_nothing_are_never_stale_and_errors_are_only_counted() {
    let t = Clock::new();
    let h = History::new();
    h.write(0, "k", 1, t.ms(0), t.ms(1));
    h.read(0, "k", None, t.ms(5), t.ms(6));
    h.error(1, "k", "timed out", t.ms(5), t.ms(100));
    let report = Checker::new().check(&h);
    assert!(report.is_ok(), "{report}");
    assert_eq!((report.reads, report.writes, report.errors), (1, 1, 1));
}

#[test]
fn a_version_written_twice_is_judged_by_its_latest_possible_write() {
    let t = Clock::new();
    let h = History::new();
    h.write(0, "k", 1, t.ms(0), t.ms(1));
    h.write(0, "k", 2, t.ms(2), t.ms(3));
    h.write(1, "k", 1, t.ms(4), t.ms(5)); // a retry with the same version
    h.read(0, "k", Some(1), t.ms(10), t.ms(11));
    assert!(Checker::new().check(&h).is_ok());
    // The retry started after this read ended: only the first write can explain it.
    h.read(0, "k", Some(1), t.ms(3), t.ms(3));
    let report = Checker::new().check(&h);
    assert_eq!(report.stale.len(), 1, "{report}");
    assert_eq!(report.stale[0].expected_at_least, 2);
}

#[test]
fn a_pending_write_may_be_missed_elsewhere_until_the_grace_ends() {
    let t = Clock::new();
    let h = History::new();
    h.write_pending(0, "k", 1, t.ms(100), t.ms(110));
    h.read(1, "k", Some(0), t.ms(200), t.ms(201)); // long past the bound, but in grace
    h.read(1, "k", Some(0), t.ms(999), t.ms(1001)); // the last instant of grace
    h.read(1, "k", Some(1), t.ms(300), t.ms(301)); // seeing it early is fine too

    let checker = Checker::new().propagation(ms(10)).pending_grace(t.ms(0), t.ms(500), t.ms(1000));
    let report = checker.clone().check(&h);
    assert!(report.is_ok(), "{report}");
    assert_eq!((report.reads, report.writes), (3, 1));
    // Without the grace window it is an ordinary write.
    assert_eq!(Checker::new().propagation(ms(10)).check(&h).stale.len(), 2);

    // From `until` on it is an ordinary write: stale, and named as the missed write.
    h.read(1, "k", Some(0), t.ms(1000), t.ms(1001));
    let report = checker.check(&h);
    assert_eq!(report.stale.len(), 1, "{report}");
    let v = &report.stale[0];
    assert_eq!((v.instance, v.read_start, v.expected_at_least, v.write_instance), (1, t.ms(1000), 1, 0));
    assert_eq!(v.write_end, t.ms(110));
}

#[test]
fn a_pending_write_binds_its_own_instance_at_once() {
    let t = Clock::new();
    let h = History::new();
    h.write_pending(0, "k", 1, t.ms(100), t.ms(110));
    h.read(0, "k", Some(1), t.ms(111), t.ms(112));
    h.read(0, "k", Some(0), t.ms(110), t.ms(111)); // read-your-writes, even in grace

    let report = Checker::new().propagation(ms(10)).pending_grace(t.ms(0), t.ms(500), t.ms(1000)).check(&h);
    assert_eq!(report.stale.len(), 1, "{report}");
    assert_eq!((report.stale[0].instance, report.stale[0].read_start), (0, t.ms(110)));
}

#[test]
fn grace_covers_only_pending_writes_ending_inside_the_window() {
    let t = Clock::new();
    let h = History::new();
    h.write(0, "a", 1, t.ms(100), t.ms(110)); // confirmed: never excused
    h.write_pending(0, "b", 1, t.ms(40), t.ms(50)); // ended before the window
    h.write_pending(0, "c", 1, t.ms(490), t.ms(500)); // ended as the window closed
    h.write_pending(0, "d", 1, t.ms(100), t.ms(110)); // inside: excused
    for key in ["a", "b", "c", "d"] {
        h.read(1, key, Some(0), t.ms(700), t.ms(701));
    }
    let report = Checker::new().propagation(ms(10)).pending_grace(t.ms(100), t.ms(500), t.ms(1000)).check(&h);
    let keys: Vec<_> = report.stale.iter().map(|v| v.key.as_str()).collect();
    assert_eq!(keys, vec!["a", "b", "c"], "{report}");
}

#[test]
fn grace_windows_combine_with_relaxed_bounds_and_each_other() {
    let t = Clock::new();
    let h = History::new();
    h.write_pending(0, "k", 1, t.ms(100), t.ms(110));
    // Past the grace of the first window (until 300) but inside the second's (until 600).
    h.read(1, "k", Some(0), t.ms(400), t.ms(401));
    // After all grace: the relaxed window's 1 s bound still applies, counted from the end.
    h.read(1, "k", Some(0), t.ms(700), t.ms(701));
    h.read(1, "k", Some(0), t.ms(1110), t.ms(1111)); // relaxed window over: stale
    let report = Checker::new()
        .propagation(ms(10))
        .pending_grace(t.ms(0), t.ms(200), t.ms(300))
        .pending_grace(t.ms(100), t.ms(150), t.ms(600))
        .relaxed(t.ms(600), t.ms(1100), ms(1000))
        .check(&h);
    let starts: Vec<_> = report.stale.iter().map(|v| v.read_start).collect();
    assert_eq!(starts, vec![t.ms(1110)], "{report}");
}

#[test]
fn a_read_of_a_pending_write_is_possible_and_orders_it() {
    let t = Clock::new();
    let h = History::new();
    h.write_pending(0, "k", 1, t.ms(100), t.ms(110));
    h.write(0, "k", 2, t.ms(120), t.ms(130));
    h.read(0, "k", Some(1), t.ms(115), t.ms(116));
    h.read(1, "k", Some(1), t.ms(140), t.ms(141)); // v2 is confirmed and past the 0 bound
    let report = Checker::new().pending_grace(t.ms(0), t.ms(1000), t.ms(1000)).check(&h);
    assert!(report.impossible.is_empty(), "{report}");
    assert_eq!(report.stale.len(), 1, "{report}");
    assert_eq!((report.stale[0].returned, report.stale[0].expected_at_least), (1, 2));
}

/// Recording with paused time, as the fault tests do.
#[tokio::test(start_paused = true)]
async fn paused_time_histories_are_checked() {
    let h = History::new();
    let start = Instant::now();
    tokio::time::sleep(ms(3)).await;
    h.write(0, "k", 1, start, Instant::now());
    tokio::time::advance(ms(20)).await;
    let read = Instant::now();
    h.read(1, "k", Some(0), read, read);
    let report = Checker::new().propagation(ms(20)).check(&h);
    assert_eq!(report.stale_after(start), 1, "{report}");
    assert_eq!(report.last_stale_start_after(start), Some(read));
    assert!(Checker::new().propagation(ms(21)).check(&h).is_ok());
}

/// 200,000 operations: a quadratic checker would not finish.
#[test]
fn a_large_history_is_checked_quickly_and_exactly() {
    let t = Clock::new();
    let h = History::new();
    let keys: Vec<String> = (0..100).map(|k| format!("key:{k}")).collect();
    let mut versions = [0u64; 100];
    for i in 0..200_000u64 {
        let k = (i * 7 % 100) as usize;
        let instance = (i % 3) as usize;
        if (i / 100) % 4 == 0 {
            versions[k] += 1;
            h.write(instance, &keys[k], versions[k], t.ms(i), t.ms(i) + Duration::from_micros(500));
        } else {
            h.read(instance, &keys[k], Some(versions[k]), t.ms(i), t.ms(i) + Duration::from_micros(500));
        }
    }
    assert!(Checker::new().check(&h).is_ok());
    h.read(0, &keys[5], Some(1), t.ms(300_000), t.ms(300_001));
    let report = Checker::new().check(&h);
    assert_eq!(report.stale.len(), 1, "{report}");
    assert_eq!(report.stale[0].expected_at_least, versions[5]);
}
