//! Periodic tasks: one leader (a PostgreSQL advisory lock held on a dedicated connection)
//! submits each schedule's task once per time slot.
//!
//! The leader lock keeps the work on one instance; the slot table (`tq_periodic`) makes each
//! slot's submit happen at most once even if two instances briefly both believe they lead
//! (the slot is claimed in the same transaction as the insert).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::task::JoinHandle;
use tokio_postgres::NoTls;
use tokio_util::sync::CancellationToken;

use super::backend::PostgresBackend;
use crate::error::QueueError;
use crate::task::Task;

type MakeTask = Arc<dyn Fn(i64) -> Result<Task, QueueError> + Send + Sync>;
/// The wall clock the slots are computed from: time since the Unix epoch.
type WallClock = Arc<dyn Fn() -> Duration + Send + Sync>;

fn system_clock() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// When a schedule fires.
#[derive(Debug, Clone)]
enum When {
    /// Once per period; the slot is the number of whole periods since the epoch.
    Every(Duration),
    /// In each minute the expression matches; the slot is that minute since the epoch.
    Cron(super::cron::Cron),
}

/// A set of periodic schedules sharing one leader election.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use perfstack_task_queue::postgres::{Cron, Periodic, PostgresBackend, PostgresConfig};
/// use perfstack_task_queue::Task;
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let url = "postgres://postgres@127.0.0.1/test";
/// let backend = PostgresBackend::connect(url, PostgresConfig::default()).await?;
/// let handle = Periodic::new(backend, url)
///     .every("reports.hourly", Duration::from_secs(3600), |slot| Task::new("report", &slot))
///     .cron("cleanup.nightly", Cron::parse("30 2 * * *")?, |minute| Task::new("cleanup", &minute))
///     .start();
/// # handle.stop().await;
/// # Ok(()) }
/// ```
#[must_use]
pub struct Periodic {
    backend: PostgresBackend,
    url: String,
    tick: Duration,
    schedules: Vec<(String, When, MakeTask)>,
    clock: WallClock,
}

impl std::fmt::Debug for Periodic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.schedules.iter().map(|(n, ..)| n.as_str()).collect();
        f.debug_struct("Periodic").field("schedules", &names).field("tick", &self.tick).finish()
    }
}

/// A running scheduler.
#[derive(Debug)]
pub struct PeriodicHandle {
    leader: Arc<AtomicBool>,
    stop: CancellationToken,
    join: JoinHandle<()>,
}

impl PeriodicHandle {
    /// True while this instance holds the leader lock.
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Acquire)
    }

    /// Stops scheduling and releases the lock (its connection closes).
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.join.await;
    }
}

impl Periodic {
    /// A scheduler for `backend`; `url` opens the dedicated connection that holds the lock.
    pub fn new(backend: PostgresBackend, url: impl Into<String>) -> Self {
        Self {
            backend,
            url: url.into(),
            tick: Duration::from_secs(1),
            schedules: Vec::new(),
            clock: Arc::new(system_clock),
        }
    }

    /// How often the leader checks its schedules and followers try to take the lead: 10 ms to
    /// one minute (a shorter or longer one is taken as that; a tick over a minute would skip
    /// cron minutes). Default 1 s.
    pub fn tick(mut self, d: Duration) -> Self {
        self.tick = d.clamp(Duration::from_millis(10), Duration::from_secs(60));
        self
    }

    /// The wall clock slots are computed from, as time since the Unix epoch. Default: the
    /// system clock. Tests inject a fixed or stepped clock to make slot maths deterministic.
    pub fn clock(mut self, now: impl Fn() -> Duration + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(now);
        self
    }

    /// Submits `make(slot)` once per `period`, where `slot` is the number of whole periods since
    /// the Unix epoch.
    pub fn every(
        mut self,
        name: impl Into<String>,
        period: Duration,
        make: impl Fn(i64) -> Result<Task, QueueError> + Send + Sync + 'static,
    ) -> Self {
        self.schedules.push((name.into(), When::Every(period.max(Duration::from_millis(1))), Arc::new(make)));
        self
    }

    /// Submits `make(minute)` in each minute (UTC) that `cron` matches, where `minute` counts
    /// whole minutes since the Unix epoch. A minute in which no instance led is skipped, not
    /// caught up.
    pub fn cron(
        mut self,
        name: impl Into<String>,
        cron: super::cron::Cron,
        make: impl Fn(i64) -> Result<Task, QueueError> + Send + Sync + 'static,
    ) -> Self {
        self.schedules.push((name.into(), When::Cron(cron), Arc::new(make)));
        self
    }

    /// Starts the election and scheduling loop.
    pub fn start(self) -> PeriodicHandle {
        let leader = Arc::new(AtomicBool::new(false));
        let stop = CancellationToken::new();
        let join = tokio::spawn(run(self, Arc::clone(&leader), stop.clone()));
        PeriodicHandle { leader, stop, join }
    }
}

async fn run(p: Periodic, leader: Arc<AtomicBool>, stop: CancellationToken) {
    while !stop.is_cancelled() {
        if let Err(e) = lead(&p, &leader, &stop).await {
            tracing::warn!(error = %e, "periodic scheduler connection failed; retrying");
        }
        leader.store(false, Ordering::Release);
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(p.tick) => {}
        }
    }
}

async fn lead(p: &Periodic, leader: &AtomicBool, stop: &CancellationToken) -> Result<(), QueueError> {
    let (mut client, conn) = tokio_postgres::connect(&p.url, NoTls).await?;
    let driver = tokio::spawn(conn);
    let key = format!("perfstack_task_queue:periodic:{}", p.backend.schema());
    let schema = p.backend.schema().to_string();
    let mut tick = tokio::time::interval(p.tick);
    let res = loop {
        tokio::select! {
            () = stop.cancelled() => break Ok(()),
            _ = tick.tick() => {}
        }
        if !leader.load(Ordering::Acquire) {
            let row = client.query_one("SELECT pg_try_advisory_lock(hashtext($1))", &[&key]).await?;
            if row.get::<_, bool>(0) {
                tracing::info!("periodic scheduler: this instance is the leader");
                leader.store(true, Ordering::Release);
            } else {
                continue;
            }
        }
        if let Err(e) = submit_due(p, &mut client, &schema).await {
            break Err(e);
        }
    };
    driver.abort();
    res
}

async fn submit_due(p: &Periodic, client: &mut tokio_postgres::Client, schema: &str) -> Result<(), QueueError> {
    let now = (p.clock)();
    for (name, when, make) in &p.schedules {
        let Some(slot) = slot(when, now) else { continue };
        match submit_slot(p, client, schema, name, slot, make).await {
            Ok(()) => {}
            // One schedule whose task the database refuses (a bad name, a task that cannot be
            // stored) is logged and skipped; the others still run. A lost connection ends the
            // round (the caller reconnects).
            Err(SlotError::Refused(e)) => {
                tracing::warn!(schedule = %name, error = %e, "periodic task could not be submitted");
            }
            Err(SlotError::Connection(e)) => return Err(e),
        }
    }
    Ok(())
}

enum SlotError {
    /// The database refused this schedule's statements; its transaction rolled back.
    Refused(QueueError),
    /// The connection failed.
    Connection(QueueError),
}

impl From<tokio_postgres::Error> for SlotError {
    fn from(e: tokio_postgres::Error) -> Self {
        if e.as_db_error().is_some() {
            Self::Refused(e.into())
        } else {
            Self::Connection(e.into())
        }
    }
}

/// Claims `slot` of schedule `name` and submits its task, in one transaction.
async fn submit_slot(
    p: &Periodic,
    client: &mut tokio_postgres::Client,
    schema: &str,
    name: &str,
    slot: i64,
    make: &MakeTask,
) -> Result<(), SlotError> {
    let tx = client.transaction().await?;
    let claimed = tx
        .execute(
            &format!(
                "INSERT INTO \"{schema}\".tq_periodic (name, last_slot) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET last_slot = excluded.last_slot
                 WHERE tq_periodic.last_slot < excluded.last_slot"
            ),
            &[&name, &slot],
        )
        .await?;
    if claimed != 1 {
        return Ok(());
    }
    match make(slot) {
        Ok(task) => {
            // A connection lost here fails the next statement, which ends the round.
            p.backend.submit_in(&tx, task).await.map_err(SlotError::Refused)?;
            tx.commit().await?;
            metrics::counter!("perfstack_task_periodic_submitted_total", "schedule" => name.to_string()).increment(1);
        }
        Err(e) => tracing::warn!(schedule = %name, error = %e, "periodic task could not be built"),
    }
    Ok(())
}

/// The slot `when` is in at `now` (time since the Unix epoch), or `None` when a cron schedule
/// does not match this minute.
fn slot(when: &When, now: Duration) -> Option<i64> {
    match when {
        When::Every(period) => Some(i64::try_from(now.as_millis() / period.as_millis().max(1)).unwrap_or(i64::MAX)),
        When::Cron(cron) => {
            let minute = now.as_secs() / 60;
            cron.matches_minute(minute).then(|| i64::try_from(minute).unwrap_or(i64::MAX))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::postgres::Cron;

    #[test]
    fn every_slots_count_whole_periods_since_the_epoch() {
        let every = When::Every(Duration::from_secs(60));
        assert_eq!(slot(&every, Duration::from_secs(0)), Some(0));
        assert_eq!(slot(&every, Duration::from_millis(59_999)), Some(0));
        assert_eq!(slot(&every, Duration::from_secs(60)), Some(1));
        assert_eq!(slot(&every, Duration::from_secs(3_600)), Some(60));
    }

    #[test]
    fn cron_slots_are_matching_minutes_only() {
        // 1970-01-01 is a Thursday; "30 2 * * *" matches minute 150 of each day.
        let cron = When::Cron(Cron::parse("30 2 * * *").unwrap());
        assert_eq!(slot(&cron, Duration::from_secs(150 * 60 + 59)), Some(150));
        assert_eq!(slot(&cron, Duration::from_secs(151 * 60)), None);
        assert_eq!(slot(&cron, Duration::from_secs((1_440 + 150) * 60)), Some(1_590));
    }
}
