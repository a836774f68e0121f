//! [`Periodic`]: the schedules of a periodic scheduler, and its start.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::cron::Cron;
use super::handle::PeriodicHandle;
use super::leader::{self, Scheduler};
use super::schedule::{system_clock, Schedule, WallClock, When};
use crate::backend::postgres::PostgresBackend;
use crate::error::QueueError;
use crate::task::Task;

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
    name: Arc<str>,
    tick: Duration,
    schedules: Vec<Schedule>,
    clock: WallClock,
}

impl std::fmt::Debug for Periodic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.schedules.iter().map(|s| s.name.as_str()).collect();
        f.debug_struct("Periodic")
            .field("name", &self.name)
            .field("schedules", &names)
            .field("tick", &self.tick)
            .finish()
    }
}

impl Periodic {
    /// A scheduler for `backend`; `url` opens the dedicated connection that holds the lock.
    pub fn new(backend: PostgresBackend, url: impl Into<String>) -> Self {
        Self {
            backend,
            url: url.into(),
            name: Arc::from("default"),
            tick: Duration::from_secs(1),
            schedules: Vec::new(),
            clock: Arc::new(system_clock),
        }
    }

    /// The label `name` on this scheduler's metric (give it the name of the queue its tasks go
    /// to). Default `"default"`.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = name.into();
        self
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
        let when = When::Every(period.max(Duration::from_millis(1)));
        self.schedules.push(Schedule { name: name.into(), when, make: Arc::new(make) });
        self
    }

    /// Submits `make(minute)` in each minute (UTC) that `cron` matches, where `minute` counts
    /// whole minutes since the Unix epoch. A minute in which no instance led is skipped, not
    /// caught up.
    pub fn cron(
        mut self,
        name: impl Into<String>,
        cron: Cron,
        make: impl Fn(i64) -> Result<Task, QueueError> + Send + Sync + 'static,
    ) -> Self {
        self.schedules.push(Schedule { name: name.into(), when: When::Cron(cron), make: Arc::new(make) });
        self
    }

    /// Starts the election and scheduling loop (on the current tokio runtime).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn start(self) -> PeriodicHandle {
        let Self { backend, url, name, tick, schedules, clock } = self;
        let schedules = schedules
            .into_iter()
            .map(|s| {
                let submitted = metrics::counter!(
                    "perfstack_task_queue_periodic_submitted_total",
                    "name" => Arc::clone(&name), "schedule" => s.name.clone()
                );
                (s, submitted)
            })
            .collect();
        let scheduler = Scheduler { backend, url, tick, clock, schedules };
        let leader = Arc::new(AtomicBool::new(false));
        let stop = CancellationToken::new();
        let join = tokio::spawn(leader::run(scheduler, Arc::clone(&leader), stop.clone()));
        PeriodicHandle { leader, stop, join }
    }
}
