//! [`Checker`]: judges a whole [`History`] against the documented propagation bounds.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::handle::{History, OpKind};
use super::index::PrefixMax;
use super::report::{Report, Violation};

/// Judges a [`History`]: which reads were stale past the bound, which were impossible. See the
/// [module docs](super) for the exact rules.
///
/// # Examples
///
/// A fault window in which other instances may lag up to 2 s instead of 50 ms:
///
/// ```
/// use std::time::Duration;
/// use perfstack_testkit::history::{Checker, History};
/// use tokio::time::Instant;
///
/// let t0 = Instant::now();
/// let ms = |n| t0 + Duration::from_millis(n);
/// let history = History::new();
/// history.write(0, "k", 1, ms(0), ms(10));
/// history.read(1, "k", Some(0), ms(500), ms(501)); // inside the window: tolerated
/// history.read(1, "k", Some(0), ms(3000), ms(3001)); // after it: stale
///
/// let report = Checker::new()
///     .propagation(Duration::from_millis(50))
///     .relaxed(ms(100), ms(2100), Duration::from_secs(2))
///     .check(&history);
/// assert_eq!(report.stale.len(), 1);
/// assert_eq!(report.stale_after(ms(2100)), 1);
/// ```
#[must_use]
#[derive(Debug, Clone, Default)]
pub struct Checker {
    propagation: Duration,
    relaxed: Vec<Relaxed>,
    grace: Vec<Grace>,
}

/// Reads starting in `[from, to)` allow other instances `bound`.
#[derive(Debug, Clone, Copy)]
struct Relaxed {
    from: Instant,
    to: Instant,
    bound: Duration,
}

/// Pending writes that ended in `[from, to)` need not be seen by other instances' reads that
/// start before `until`.
#[derive(Debug, Clone, Copy)]
struct Grace {
    from: Instant,
    to: Instant,
    until: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Write {
    instance: usize,
    version: u64,
    start: Instant,
    end: Instant,
    /// For a pending write inside a grace window: other instances' reads that start before
    /// this need not see it (the latest `until` of the windows that hold its end).
    excused_until: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Read {
    instance: usize,
    version: u64,
    start: Instant,
    end: Instant,
}

/// A write a read should have seen, ordered by version first: (version, end, instance).
type Offender = (u64, Instant, usize);

impl Checker {
    /// A checker with propagation bound 0: every read must see every write that returned
    /// before it started.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long a write may take to reach *other* instances (the documented propagation
    /// bound). The writing instance itself always has bound 0 (read-your-writes).
    pub fn propagation(mut self, bound: Duration) -> Self {
        self.propagation = bound;
        self
    }

    /// Reads that *start* within `[from, to)` allow other instances this (larger) bound
    /// instead: a fault window whose documented bound is longer. Several windows may be given;
    /// the largest applicable bound wins.
    pub fn relaxed(mut self, from: Instant, to: Instant, bound: Duration) -> Self {
        self.relaxed.push(Relaxed { from, to, bound });
        self
    }

    /// Pending writes ([`History::write_pending`]) that *ended* within `[from, to)` need not be
    /// visible on *other* instances to reads that start before `until` (typically the fault's
    /// recovery point: the write is retried until the shared tier confirms it). Reads starting
    /// at or after `until` judge them as ordinary writes (propagation bound and relaxed
    /// windows apply as usual), and so do reads on the writing instance at any time
    /// (read-your-writes, bound 0). A pending write outside every grace window is an ordinary
    /// write; of several windows holding its end, the latest `until` wins. Confirmed writes
    /// ([`History::write`]) are never excused.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use perfstack_testkit::history::{Checker, History};
    /// use tokio::time::Instant;
    ///
    /// let t0 = Instant::now();
    /// let ms = |n| t0 + Duration::from_millis(n);
    /// let history = History::new();
    /// history.write_pending(0, "k", 1, ms(100), ms(110)); // during the outage
    /// history.read(1, "k", Some(0), ms(900), ms(901)); // not propagated yet: tolerated
    /// history.read(0, "k", Some(0), ms(200), ms(201)); // the writer itself: stale
    /// history.read(1, "k", Some(0), ms(1500), ms(1501)); // after the recovery point: stale
    ///
    /// let report = Checker::new()
    ///     .propagation(Duration::from_millis(50))
    ///     .pending_grace(ms(0), ms(1000), ms(1000))
    ///     .check(&history);
    /// assert_eq!(report.stale.len(), 2, "{report}");
    /// assert_eq!((report.stale[0].instance, report.stale[1].instance), (0, 1));
    /// ```
    pub fn pending_grace(mut self, from: Instant, to: Instant, until: Instant) -> Self {
        self.grace.push(Grace { from, to, until });
        self
    }

    /// Checks the whole history (a snapshot of it: operations recorded meanwhile are not seen).
    #[must_use]
    pub fn check(&self, history: &History) -> Report {
        let ops = history.ops();
        let mut report = Report { reads: 0, writes: 0, errors: 0, stale: Vec::new(), impossible: Vec::new() };
        let mut keys: HashMap<&str, (Vec<Write>, Vec<Read>)> = HashMap::new();
        for op in &ops {
            let (instance, start, end) = (op.instance, op.start, op.end);
            match op.kind {
                OpKind::Write(version) | OpKind::WritePending(version) => {
                    report.writes += 1;
                    // Only pending writes may be excused on other instances.
                    let pending = matches!(op.kind, OpKind::WritePending(_));
                    let excused_until = if pending { self.excused_until(end) } else { None };
                    let write = Write { instance, version, start, end, excused_until };
                    keys.entry(op.key.as_str()).or_default().0.push(write);
                }
                OpKind::Read(version) => {
                    report.reads += 1;
                    // A read of nothing is never stale.
                    if let Some(version) = version {
                        keys.entry(op.key.as_str()).or_default().1.push(Read { instance, version, start, end });
                    }
                }
                OpKind::Error(_) => report.errors += 1,
            }
        }
        for (key, (writes, reads)) in keys {
            self.check_key(key, writes, &reads, &mut report);
        }
        let order = |v: &Violation| (v.read_start, v.instance, v.key.clone(), v.returned);
        report.stale.sort_by_cached_key(order);
        report.impossible.sort_by_cached_key(order);
        report
    }

    /// The bound for writes of other instances, for a read starting at `start`.
    fn bound_for_others(&self, start: Instant) -> Duration {
        self.relaxed
            .iter()
            .filter(|w| w.from <= start && start < w.to)
            .map(|w| w.bound)
            .fold(self.propagation, Duration::max)
    }

    /// Until when other instances may miss a pending write that ended at `end` (`None`: no
    /// grace window holds it).
    fn excused_until(&self, end: Instant) -> Option<Instant> {
        self.grace.iter().filter(|g| g.from <= end && end < g.to).map(|g| g.until).max()
    }

    fn check_key(&self, key: &str, mut writes: Vec<Write>, reads: &[Read], report: &mut Report) {
        let violation = |read: &Read, expected_at_least, write_instance, write_end| Violation {
            key: key.to_owned(),
            instance: read.instance,
            read_start: read.start,
            read_end: read.end,
            returned: read.version,
            expected_at_least,
            write_instance,
            write_end,
        };

        // Each judged read with the end of the write it saw (None: the initial version).
        let producers = Producers::new(&writes);
        let mut judged: Vec<(&Read, Option<Instant>)> = Vec::with_capacity(reads.len());
        for read in reads {
            match producers.seen_by(read) {
                Ok(seen_end) => judged.push((read, seen_end)),
                Err(Some(w)) => report.impossible.push(violation(read, 0, w.instance, w.end)),
                Err(None) => report.impossible.push(violation(read, 0, read.instance, read.end)),
            }
        }

        // A write ending at or before this may no longer be missed by another instance.
        let others: Vec<Option<Instant>> =
            judged.iter().map(|(read, _)| read.start.checked_sub(self.bound_for_others(read.start))).collect();
        let mut offenders: Vec<Option<Offender>> = vec![None; judged.len()];
        // One lane per instance and grace deadline: within a lane, whether a read is judged
        // against the writes at all depends on the read alone, so one sweep by end serves it.
        writes.sort_unstable_by_key(|w| (w.instance, w.excused_until, w.end));
        for lane in writes.chunk_by(|a, b| (a.instance, a.excused_until) == (b.instance, b.excused_until)) {
            sweep_lane(lane, &judged, &others, &mut offenders);
        }
        for ((read, _), offender) in judged.iter().zip(offenders) {
            if let Some((version, end, instance)) = offender {
                report.stale.push(violation(read, version, instance, end));
            }
        }
    }
}

/// Finds, for every judged read, the largest write of one instance's `lane` (sorted by end)
/// that ended by the read's deadline and started after the read's own write ended. All
/// writes of a lane share their instance and grace deadline (`excused_until`): reads of
/// other instances starting before it skip the lane.
///
/// The reads are visited by deadline while the lane's writes are inserted by end, so each
/// query sees exactly the writes that ended in time; the index is keyed by start, latest
/// first, so "started after" is a prefix.
fn sweep_lane(
    lane: &[Write],
    judged: &[(&Read, Option<Instant>)],
    others: &[Option<Instant>],
    offenders: &mut [Option<Offender>],
) {
    let (instance, excused_until) = (lane[0].instance, lane[0].excused_until);
    let mut starts: Vec<Instant> = lane.iter().map(|w| w.start).collect();
    starts.sort_unstable();
    let mut queries: Vec<(Instant, usize)> = judged
        .iter()
        .zip(others)
        .enumerate()
        .filter_map(|(q, ((read, _), other))| {
            // Read-your-writes: the writing instance has bound 0. Others may miss pending
            // writes in a grace window until its `until`.
            let deadline = if read.instance == instance {
                Some(read.start)
            } else if excused_until.is_some_and(|until| read.start < until) {
                None
            } else {
                *other
            };
            deadline.map(|d| (d, q))
        })
        .collect();
    queries.sort_unstable_by_key(|&(deadline, _)| deadline);

    let n = lane.len();
    let mut index = PrefixMax::new(n);
    let mut inserted = 0;
    for (deadline, q) in queries {
        while let Some(w) = lane.get(inserted).filter(|w| w.end <= deadline) {
            let rank = starts.partition_point(|&s| s < w.start);
            index.insert(n - 1 - rank, (w.version, w.end, w.instance));
            inserted += 1;
        }
        // Writes that started after the one the read saw had ended: the read cannot be
        // linearised after them.
        let not_after = match judged[q].1 {
            None => 0,
            Some(seen_end) => starts.partition_point(|&s| s <= seen_end),
        };
        offenders[q] = offenders[q].max(index.max_before(n - not_after));
    }
}

/// The writes of one key by version: which one a read of that version may have seen.
struct Producers {
    /// Per version: its writes sorted by start, with the latest end among each prefix.
    by_version: HashMap<u64, Vec<(Write, Instant)>>,
}

impl Producers {
    fn new(writes: &[Write]) -> Self {
        let mut by_version: HashMap<u64, Vec<(Write, Instant)>> = HashMap::new();
        for w in writes {
            by_version.entry(w.version).or_default().push((*w, w.end));
        }
        for list in by_version.values_mut() {
            list.sort_unstable_by_key(|(w, _)| (w.start, w.end, w.instance));
            let mut latest = list[0].1;
            for (w, latest_end) in list.iter_mut() {
                latest = latest.max(w.end);
                *latest_end = latest;
            }
        }
        Self { by_version }
    }

    /// `Ok(end)`: the read may have seen a write of its version that ended at `end` (`None`:
    /// the initial version); of several such writes, the latest end (the most lenient).
    /// `Err`: impossible, with the earliest-starting write of that version if there is one.
    fn seen_by(&self, read: &Read) -> Result<Option<Instant>, Option<Write>> {
        if read.version == 0 {
            return Ok(None);
        }
        let list = self.by_version.get(&read.version).ok_or(None)?;
        match list.partition_point(|(w, _)| w.start <= read.end) {
            0 => Err(list.first().map(|(w, _)| *w)),
            began => Ok(Some(list[began - 1].1)),
        }
    }
}
