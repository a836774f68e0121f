//! The bound on pending + running tasks of a schema ([`PostgresConfig::max_pending`]).
//!
//! Counting every row on every submit would cost a scan per task, so the gate keeps an estimate:
//! the last exact count plus what this process admitted since. While the estimate is more than
//! 10% below the bound and less than [`REFRESH`] old, a submit is admitted without a query.
//! Otherwise the submit takes the process-wide count gate, waits (at most [`DRAIN`]) until
//! this process has no insert in flight, and counts exactly (a bounded count on the partial
//! indexes: at most `2 × max_pending` entries) on a connection held only for that query.
//!
//! In-flight admissions (admitted, insert not finished) are tracked: a recount that could not
//! wait for them to finish carries them over, so within one process the bound holds exactly.
//! Nothing here holds a pooled connection or a lock while waiting for room, and the gate is
//! never held across a statement of the caller's transaction (`submit_in` counts without it).
//!
//! [`PostgresConfig::max_pending`]: super::PostgresConfig::max_pending

use std::future::Future;
use std::time::Duration;

use parking_lot::Mutex as SyncMutex;
use tokio::sync::{Mutex, Notify};
use tokio::time::Instant;

use crate::backend::WhenFull;
use crate::error::QueueError;

/// How long an exact count is trusted for the fast path.
pub(super) const REFRESH: Duration = Duration::from_secs(1);
/// How often a waiting submit counts again when no local completion woke it.
const POLL: Duration = Duration::from_millis(50);
/// Longest wait of a recount for this process's in-flight inserts; after it the recount counts
/// them as taking a place (never over the bound, possibly under it until the next count).
pub(super) const DRAIN: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(super) struct Capacity {
    max: u64,
    when_full: WhenFull,
    wait: Duration,
    state: SyncMutex<Estimate>,
    /// Serialises exact counts of this process (never held across the caller's statements).
    gate: Mutex<()>,
    /// Woken when this process wrote completions or cancelled pending tasks.
    freed: Notify,
    /// Woken when the last in-flight insert of this process finished.
    drained: Notify,
}

#[derive(Debug, Default)]
struct Estimate {
    exact: u64,
    at: Option<Instant>,
    /// Admitted since the last count, or in flight at it (committed or not).
    admitted: u64,
    /// Admitted, insert not finished yet.
    inflight: u64,
    /// A recount is running: the fast path is closed so that nothing is admitted unseen.
    counting: bool,
}

/// Permission to insert one task. Call [`Admission::inserted`] once the row is written; dropped
/// without it (an error, a duplicate, a cancelled submit), the place is given back.
#[derive(Debug)]
pub(super) struct Admission<'a> {
    cap: &'a Capacity,
    inserted: bool,
}

impl Admission<'_> {
    /// The row was written (committed for `submit`; in the caller's transaction for `submit_in`).
    pub(super) fn inserted(mut self) {
        self.inserted = true;
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        let mut st = self.cap.state.lock();
        st.inflight = st.inflight.saturating_sub(1);
        if !self.inserted {
            st.admitted = st.admitted.saturating_sub(1);
        }
        let drained = st.inflight == 0;
        drop(st);
        if drained {
            self.cap.drained.notify_waiters();
        }
    }
}

/// Reopens the fast path when a recount ends, also when its future is dropped.
struct Counting<'a>(&'a Capacity);

impl Drop for Counting<'_> {
    fn drop(&mut self) {
        self.0.state.lock().counting = false;
    }
}

impl Capacity {
    /// `max` and `wait` are checked by [`super::PostgresConfig::validate`]; `max` 0 is refused there.
    pub(super) fn new(max: usize, when_full: WhenFull, wait: Duration) -> Self {
        Self {
            max: u64::try_from(max).unwrap_or(u64::MAX),
            when_full,
            wait,
            state: SyncMutex::new(Estimate::default()),
            gate: Mutex::new(()),
            freed: Notify::new(),
            drained: Notify::new(),
        }
    }

    fn capacity(&self) -> usize {
        usize::try_from(self.max).unwrap_or(usize::MAX)
    }

    fn limit(&self) -> i64 {
        i64::try_from(self.max).unwrap_or(i64::MAX)
    }

    /// Some tasks left the pending/running set in this process: wake waiting submits.
    pub(super) fn freed(&self) {
        self.freed.notify_waiters();
    }

    fn admitted(&self, st: &mut Estimate) -> Admission<'_> {
        st.admitted += 1;
        st.inflight += 1;
        Admission { cap: self, inserted: false }
    }

    /// Admits without a query while the fresh estimate is well below the bound.
    fn fast(&self) -> Option<Admission<'_>> {
        let fast_below = self.max - (self.max / 10).max(1);
        let mut st = self.state.lock();
        let fresh = st.at.is_some_and(|at| at.elapsed() < REFRESH);
        (fresh && !st.counting && st.exact + st.admitted < fast_below).then(|| self.admitted(&mut st))
    }

    /// `None` when there is no deadline (a wait too long to represent).
    fn deadline(&self) -> Option<Instant> {
        Instant::now().checked_add(self.wait)
    }

    /// After a full count: refuse, or wait for a local completion or the next poll.
    async fn full_or_wait(
        &self,
        deadline: Option<Instant>,
        freed: tokio::sync::futures::Notified<'_>,
    ) -> Result<(), QueueError> {
        let now = Instant::now();
        let left = deadline.map_or(POLL, |d| d.saturating_duration_since(now));
        if self.when_full == WhenFull::Reject || left.is_zero() {
            return Err(QueueError::Full { capacity: self.capacity() });
        }
        // Woken at once by a completion in this process; others are seen by the next count.
        let _ = tokio::time::timeout(POLL.min(left), freed).await;
        Ok(())
    }

    /// Admits one task: the fast path, else `slow` (an exact count), else wait or refuse per
    /// [`WhenFull`].
    async fn admit_with<'s, S, SF>(&'s self, slow: S) -> Result<Admission<'s>, QueueError>
    where
        S: Fn() -> SF,
        SF: Future<Output = Result<Option<Admission<'s>>, QueueError>>,
    {
        let deadline = self.deadline();
        loop {
            let freed = self.freed.notified();
            if let Some(a) = self.fast() {
                return Ok(a);
            }
            if let Some(a) = slow().await? {
                return Ok(a);
            }
            self.full_or_wait(deadline, freed).await?;
        }
    }

    /// Admits one task for `submit`, counting with `count(limit)` (a short-lived connection of
    /// its own), waiting or refusing per [`WhenFull`] when full. Holds no connection while waiting.
    pub(super) async fn admit<F, Fut>(&self, count: F) -> Result<Admission<'_>, QueueError>
    where
        F: Fn(i64) -> Fut,
        Fut: Future<Output = Result<u64, QueueError>>,
    {
        self.admit_with(|| self.gated_count(&count)).await
    }

    /// Under the gate: waits (at most [`DRAIN`]) for this process's in-flight inserts, counts,
    /// and admits when there is room.
    async fn gated_count<F, Fut>(&self, count: &F) -> Result<Option<Admission<'_>>, QueueError>
    where
        F: Fn(i64) -> Fut,
        Fut: Future<Output = Result<u64, QueueError>>,
    {
        let _gate = self.gate.lock().await;
        if let Some(a) = self.fast() {
            return Ok(Some(a));
        }
        let _counting = {
            self.state.lock().counting = true;
            Counting(self)
        };
        let drain_until = Instant::now() + DRAIN;
        loop {
            let drained = self.drained.notified();
            if self.state.lock().inflight == 0 {
                break;
            }
            if tokio::time::timeout_at(drain_until, drained).await.is_err() {
                break;
            }
        }
        // Not drained in time: those still in flight keep their places (over-counted at
        // worst, when they commit before the count's snapshot).
        let carried = self.state.lock().inflight;
        let n = count(self.limit()).await?;
        let mut st = self.state.lock();
        let inflight = st.inflight;
        *st = Estimate { exact: n, at: Some(Instant::now()), admitted: carried, inflight, counting: true };
        Ok((n + carried < self.max).then(|| self.admitted(&mut st)))
    }

    /// Admits one task for `submit_in`, counting with `count(limit)` on the caller's transaction
    /// (its own uncommitted tasks count) without holding the gate, plus this process's inserts
    /// in flight.
    pub(super) async fn admit_in<F, Fut>(&self, count: F) -> Result<Admission<'_>, QueueError>
    where
        F: Fn(i64) -> Fut,
        Fut: Future<Output = Result<u64, QueueError>>,
    {
        self.admit_with(|| async {
            let n = count(self.limit()).await?;
            let mut st = self.state.lock();
            Ok((n + st.inflight < self.max).then(|| self.admitted(&mut st)))
        })
        .await
    }
}
