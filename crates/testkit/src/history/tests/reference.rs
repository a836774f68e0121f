//! The fast checker against the module docs' rules applied literally, in O(n²), on generated histories.

use std::time::Duration;

use proptest::prelude::*;
use tokio::time::Instant;

use super::{ms, Clock};
use crate::history::{Checker, History, Op, OpKind, Violation};

/// A violation as a sortable tuple: everything the checker reports.
type Row = (String, usize, Instant, Instant, u64, u64, usize, Instant);

fn rows(violations: &[Violation]) -> Vec<Row> {
    let mut rows: Vec<Row> = violations
        .iter()
        .map(|v| {
            (
                v.key.clone(),
                v.instance,
                v.read_start,
                v.read_end,
                v.returned,
                v.expected_at_least,
                v.write_instance,
                v.write_end,
            )
        })
        .collect();
    rows.sort();
    rows
}

/// The module docs' rules, one read against every write.
fn reference(
    propagation: Duration,
    windows: &[(Instant, Instant, Duration)],
    grace: &[(Instant, Instant, Instant)],
    ops: &[Op],
) -> (Vec<Row>, Vec<Row>) {
    let (mut stale, mut impossible) = (Vec::new(), Vec::new());
    let writes: Vec<(&Op, u64)> = ops
        .iter()
        .filter_map(|op| match op.kind {
            OpKind::Write(v) | OpKind::WritePending(v) => Some((op, v)),
            _ => None,
        })
        .collect();
    for read in ops {
        let OpKind::Read(Some(r)) = read.kind else { continue };
        let row = |expected, write_instance, write_end| {
            (read.key.clone(), read.instance, read.start, read.end, r, expected, write_instance, write_end)
        };
        let same_key = || writes.iter().filter(|(w, _)| w.key == read.key);
        let seen_end = if r == 0 {
            None
        } else {
            let produced: Vec<&Op> = same_key().filter(|(_, v)| *v == r).map(|(w, _)| *w).collect();
            match produced.iter().filter(|w| w.start <= read.end).map(|w| w.end).max() {
                Some(end) => Some(end),
                None => {
                    let first = produced.iter().min_by_key(|w| (w.start, w.end, w.instance));
                    impossible.push(match first {
                        Some(w) => row(0, w.instance, w.end),
                        None => row(0, read.instance, read.end),
                    });
                    continue;
                }
            }
        };
        let mut worst = None;
        for (w, v) in same_key() {
            // A pending write ending in a grace window is not judged by other instances'
            // reads starting before that window's `until`.
            let excused = w.instance != read.instance
                && matches!(w.kind, OpKind::WritePending(_))
                && grace.iter().any(|(from, to, until)| *from <= w.end && w.end < *to && read.start < *until);
            if excused {
                continue;
            }
            let bound = if w.instance == read.instance {
                Duration::ZERO
            } else {
                windows
                    .iter()
                    .filter(|(from, to, _)| *from <= read.start && read.start < *to)
                    .map(|(_, _, b)| *b)
                    .fold(propagation, Duration::max)
            };
            if w.end + bound <= read.start && seen_end.is_none_or(|e| e < w.start) {
                worst = worst.max(Some((*v, w.end, w.instance)));
            }
        }
        if let Some((v, end, instance)) = worst {
            stale.push(row(v, instance, end));
        }
    }
    stale.sort();
    impossible.sort();
    (stale, impossible)
}

/// (kind: 0-1 write, 2-3 pending write, 4-8 read, 9 error; instance; key; start ms;
/// duration ms; read version; read nothing)
type GenOp = (u8, usize, usize, u64, u64, u64, bool);

fn gen_ops() -> impl Strategy<Value = (usize, usize, Vec<GenOp>)> {
    (1usize..=3, 1usize..=3).prop_flat_map(|(instances, keys)| {
        let op = (0u8..10, 0..instances, 0..keys, 0u64..60, 0u64..12, 0u64..7, proptest::bool::weighted(0.1));
        (Just(instances), Just(keys), proptest::collection::vec(op, 0..40))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn fast_checker_matches_the_quadratic_reference(
        (_instances, _keys, generated) in gen_ops(),
        propagation in 0u64..20,
        windows in proptest::collection::vec((0u64..70, 0u64..40, 0u64..40), 0..3),
        grace in proptest::collection::vec((0u64..70, 0u64..40, 0u64..80), 0..3),
    ) {
        let t = Clock::new();
        let h = History::new();
        let mut counters = [0u64; 3];
        for (kind, instance, key, start, duration, read, nothing) in generated {
            let name = format!("k{key}");
            let (start, end) = (t.ms(start), t.ms(start + duration));
            match kind {
                0..=1 => {
                    counters[key] += 1;
                    h.write(instance, &name, counters[key], start, end);
                }
                2..=3 => {
                    counters[key] += 1;
                    h.write_pending(instance, &name, counters[key], start, end);
                }
                4..=8 => h.read(instance, &name, (!nothing).then_some(read), start, end),
                _ => h.error(instance, &name, "boom", start, end),
            }
        }
        let windows: Vec<_> = windows.into_iter().map(|(from, len, b)| (t.ms(from), t.ms(from + len), ms(b))).collect();
        // `until` is anywhere in the run, before the window's end included.
        let grace: Vec<_> =
            grace.into_iter().map(|(from, len, until)| (t.ms(from), t.ms(from + len), t.ms(until))).collect();
        let checker = windows
            .iter()
            .fold(Checker::new().propagation(ms(propagation)), |c, &(from, to, b)| c.relaxed(from, to, b));
        let checker = grace.iter().fold(checker, |c, &(from, to, until)| c.pending_grace(from, to, until));

        let report = checker.check(&h);
        let (stale, impossible) = reference(ms(propagation), &windows, &grace, &h.ops());
        prop_assert_eq!(rows(&report.stale), stale);
        prop_assert_eq!(rows(&report.impossible), impossible);
        prop_assert_eq!(report.reads + report.writes + report.errors, h.len());
    }
}
