//! The scheduling loop: take the leader lock (a session advisory lock on a dedicated
//! connection), then each tick claim every due slot and submit its task in one transaction.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use metrics::Counter;
use tokio_postgres::NoTls;
use tokio_util::sync::CancellationToken;

use super::schedule::{Schedule, WallClock};
use crate::backend::postgres::PostgresBackend;
use crate::error::QueueError;

/// What a started scheduler runs with: its schedules, each with its resolved
/// `perfstack_task_queue_periodic_submitted_total` counter.
pub(super) struct Scheduler {
    pub(super) backend: PostgresBackend,
    pub(super) url: String,
    pub(super) tick: Duration,
    pub(super) clock: WallClock,
    pub(super) schedules: Vec<(Schedule, Counter)>,
}

/// Takes the lead whenever it can and, while leading, submits what is due each tick; reconnects
/// after a failed connection. Returns when `stop` fires.
pub(super) async fn run(p: Scheduler, leader: Arc<AtomicBool>, stop: CancellationToken) {
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

async fn lead(p: &Scheduler, leader: &AtomicBool, stop: &CancellationToken) -> Result<(), QueueError> {
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

async fn submit_due(p: &Scheduler, client: &mut tokio_postgres::Client, schema: &str) -> Result<(), QueueError> {
    let now = (p.clock)();
    for (schedule, submitted) in &p.schedules {
        let Some(slot) = schedule.when.slot(now) else { continue };
        let name = &schedule.name;
        match submit_slot(&p.backend, client, schema, schedule, slot, submitted).await {
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

/// Claims `slot` of `schedule` and submits its task, in one transaction.
async fn submit_slot(
    backend: &PostgresBackend,
    client: &mut tokio_postgres::Client,
    schema: &str,
    schedule: &Schedule,
    slot: i64,
    submitted: &Counter,
) -> Result<(), SlotError> {
    let name = schedule.name.as_str();
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
    match (schedule.make)(slot) {
        Ok(task) => {
            // A connection lost here fails the next statement, which ends the round.
            backend.submit_in(&tx, task).await.map_err(SlotError::Refused)?;
            tx.commit().await?;
            submitted.increment(1);
        }
        Err(e) => tracing::warn!(schedule = %name, error = %e, "periodic task could not be built"),
    }
    Ok(())
}
