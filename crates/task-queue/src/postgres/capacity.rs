//! The bound on pending + running tasks of a schema ([`PostgresConfig::max_pending`]).
//!
//! Counting every row on every submit would cost a scan per task, so the gate keeps an estimate:
//! the last exact count plus what this process admitted since. While the estimate is more than
//! 10% below the bound and less than [`REFRESH`] old, a submit is admitted without a query.
//! Otherwise the gate counts exactly (a bounded count on the partial indexes: at most
//! `2 × max_pending` entries) and holds the process-wide gate until the insert is done, so
//! submits of one process near the bound are serialised.
//!
//! [`PostgresConfig::max_pending`]: super::PostgresConfig::max_pending

use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard, Notify};
use tokio::time::Instant;
use tokio_postgres::GenericClient;

use crate::backend::memory::WhenFull;
use crate::error::QueueError;

/// How long an exact count is trusted for the fast path.
pub(super) const REFRESH: Duration = Duration::from_secs(1);
/// How often a waiting submit counts again when no local completion woke it.
const POLL: Duration = Duration::from_millis(50);

#[derive(Debug)]
pub(super) struct Capacity {
    max: usize,
    when_full: WhenFull,
    wait: Duration,
    estimate: Mutex<Estimate>,
    /// Woken when this process wrote completions or cancelled pending tasks.
    freed: Notify,
}

#[derive(Debug, Default)]
struct Estimate {
    exact: u64,
    at: Option<Instant>,
    admitted: u64,
}

/// Permission to insert one task. Near the bound it holds the gate: drop it after the insert.
#[derive(Debug)]
pub(super) struct Admission<'a> {
    _gate: Option<MutexGuard<'a, Estimate>>,
}

impl Capacity {
    pub(super) fn new(max: usize, when_full: WhenFull, wait: Duration) -> Self {
        Self { max: max.max(1), when_full, wait, estimate: Mutex::new(Estimate::default()), freed: Notify::new() }
    }

    /// Some tasks left the pending/running set in this process: wake waiting submits.
    pub(super) fn freed(&self) {
        self.freed.notify_waiters();
    }

    /// Admits one task, counting on `client` (the caller's transaction for `submit_in`, so its
    /// own uncommitted tasks count), waiting or refusing per [`WhenFull`] when full.
    pub(super) async fn admit<C: GenericClient + Sync>(
        &self,
        client: &C,
        count_sql: &str,
    ) -> Result<Admission<'_>, QueueError> {
        let max = u64::try_from(self.max).unwrap_or(u64::MAX);
        let fast_below = max - (max / 10).max(1);
        let deadline = Instant::now() + self.wait;
        loop {
            let freed = self.freed.notified();
            let mut est = self.estimate.lock().await;
            if est.at.is_some_and(|at| at.elapsed() < REFRESH) && est.exact + est.admitted < fast_below {
                est.admitted += 1;
                return Ok(Admission { _gate: None });
            }
            let limit = i64::try_from(self.max).unwrap_or(i64::MAX);
            let n: i64 = client.query_one(count_sql, &[&limit]).await?.get(0);
            let n = u64::try_from(n).unwrap_or(0);
            *est = Estimate { exact: n, at: Some(Instant::now()), admitted: 0 };
            if n < max {
                est.admitted = 1;
                return Ok(Admission { _gate: Some(est) });
            }
            drop(est);
            let now = Instant::now();
            if self.when_full == WhenFull::Reject || now >= deadline {
                return Err(QueueError::Full { capacity: self.max });
            }
            // Woken at once by a completion in this process; others are seen by the next count.
            let _ = tokio::time::timeout(POLL.min(deadline - now), freed).await;
        }
    }
}
