//! perfstack-task-queue: five priorities with aging, retries with backoff, dead-letter with the
//! error kept, and (with PostgreSQL) a durable queue with enqueue inside the caller's
//! transaction, a bound on pending tasks and prompt cancellation of a running task.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use perfstack_task_queue::postgres::{PostgresBackend, PostgresConfig};
use perfstack_task_queue::{
    handler_fn, BackoffPolicy, Priority, Task, TaskContext, TaskError, TaskId, TaskQueue, TaskState, WhenFull,
    WorkerPool,
};

use super::{SectionError, Tour};

/// The task-queue section of the tour.
///
/// # Errors
///
/// A queue error, or a task not ending in the state the demo expects.
pub async fn run(tour: &Tour) -> Result<(), SectionError> {
    tour.heading("task-queue: priorities with aging, retries, dead-letter, durable PostgreSQL queue");
    in_memory().await?;
    match &tour.services.postgres {
        Some(url) => durable(url).await?,
        None => println!("  PostgreSQL not reachable: skipping the durable queue (the demo above is in memory)"),
    }
    Ok(())
}

async fn wait_final(queue: &TaskQueue, id: TaskId) -> Result<TaskState, SectionError> {
    for _ in 0..2_000 {
        if let Some(info) = queue.status(id).await? {
            if info.state.is_final() {
                return Ok(info.state);
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Err(format!("task {id} did not finish in 10 s").into())
}

/// One worker, a backlog of `Low` tasks, then `Critical` ones: the critical tasks overtake;
/// a flaky task succeeds on its third attempt; a task with an unreadable payload is
/// dead-lettered at once.
async fn in_memory() -> Result<(), SectionError> {
    let queue = TaskQueue::memory();
    let order = Arc::new(Mutex::new(Vec::new()));
    let flaky_attempts = Arc::new(AtomicU32::new(0));
    let (o, f) = (Arc::clone(&order), Arc::clone(&flaky_attempts));
    // Submit before starting the pool, so that the order below is decided by priority alone.
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(queue.submit(Task::new("job", &format!("low-{i}"))?.priority(Priority::Low)).await?);
    }
    for i in 0..2 {
        ids.push(queue.submit(Task::new("job", &format!("critical-{i}"))?.priority(Priority::Critical)).await?);
    }
    let backoff = BackoffPolicy::exponential(Duration::from_millis(10), Duration::from_millis(100));
    let flaky = queue.submit(Task::new("flaky", &())?.max_attempts(5).backoff(backoff)).await?;
    let bad = queue.submit(Task::new("job", &42)?).await?;
    let pool = WorkerPool::builder(&queue)
        .concurrency(1)
        .fetch_batch(1)
        .handler(
            "job",
            handler_fn(move |_: TaskContext, name: String| {
                o.lock().unwrap_or_else(PoisonError::into_inner).push(name);
                async { Ok(()) }
            }),
        )
        .handler(
            "flaky",
            handler_fn(move |ctx: TaskContext, (): ()| {
                f.fetch_add(1, Ordering::SeqCst);
                async move {
                    if ctx.attempt() < 3 {
                        Err(TaskError::retry(format!("downstream busy (attempt {})", ctx.attempt())))
                    } else {
                        Ok(())
                    }
                }
            }),
        )
        .start()?;
    for id in ids.iter().chain([&flaky, &bad]) {
        wait_final(&queue, *id).await?;
    }
    pool.shutdown().await;
    let order = order.lock().unwrap_or_else(PoisonError::into_inner).clone();
    println!("  run order with one worker: {}", order.join(", "));
    let flaky_info = queue.status(flaky).await?.ok_or("flaky task vanished")?;
    println!("  flaky task: {:?} after {} attempts (backoff 10 ms, 20 ms)", flaky_info.state, flaky_info.attempts);
    let bad_info = queue.status(bad).await?.ok_or("bad task vanished")?;
    println!(
        "  payload 42 for a String handler: {:?}, error kept: {:?}",
        bad_info.state,
        bad_info.last_error.unwrap_or_default()
    );
    let stats = queue.stats().await?;
    println!(
        "  stats: completed {}, retried {}, dead-lettered {}, wait p50 ≤ {} µs",
        stats.completed, stats.retried, stats.dead_lettered, stats.wait.p50_us_at_most
    );
    if order.first().map(String::as_str) != Some("critical-0") || flaky_info.state != TaskState::Completed {
        return Err("unexpected order or flaky outcome".into());
    }
    if bad_info.state != TaskState::Dead {
        return Err("the unreadable payload was not dead-lettered".into());
    }
    Ok(())
}

/// A durable queue in its own schema: a task enqueued in a rolled-back transaction never
/// exists; committed ones are run by a pool and completed with one batched write.
async fn durable(url: &str) -> Result<(), SectionError> {
    let schema = format!("perfstack_tour_tq_{}", std::process::id());
    let backend = PostgresBackend::connect(url, PostgresConfig::in_schema(&schema)).await?;
    let mut result = durable_inner(&backend).await;
    if result.is_ok() {
        result = bounded_and_cancel(url, &schema).await;
    }
    if let Ok(client) = backend.pool().get().await {
        let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await;
    }
    result
}

/// The same schema with a bound of one pending task: the second submit is refused with
/// `Full`. Then a running task is cancelled: its handler sees the token fire through
/// LISTEN/NOTIFY, though the pool heartbeats only once an hour.
async fn bounded_and_cancel(url: &str, schema: &str) -> Result<(), SectionError> {
    let cfg = PostgresConfig { max_pending: Some(1), when_full: WhenFull::Reject, ..PostgresConfig::in_schema(schema) };
    let backend = PostgresBackend::connect(url, cfg).await?;
    // A NOTIFY sent before LISTEN is up is lost (only the hourly heartbeat would see the cancel).
    if !backend.listening(Duration::from_secs(10)).await {
        return Err("no LISTEN connection within 10 s".into());
    }
    let queue = TaskQueue::new(backend);
    let first = queue.submit(Task::new("sleepy", &())?).await?;
    let refused = queue.submit(Task::new("sleepy", &())?).await;
    println!(
        "  max_pending = 1: second submit → {}",
        refused.as_ref().map_or_else(ToString::to_string, |id| id.to_string())
    );
    if !matches!(refused, Err(perfstack_task_queue::QueueError::Full { .. })) {
        return Err("the bounded queue accepted a second task".into());
    }
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let started_tx = Arc::new(Mutex::new(Some(started_tx)));
    let pool = WorkerPool::builder(&queue)
        .lease(Duration::from_secs(3 * 3600))
        .handler(
            "sleepy",
            handler_fn(move |ctx: TaskContext, (): ()| {
                let tx = started_tx.lock().unwrap_or_else(PoisonError::into_inner).take();
                async move {
                    if let Some(tx) = tx {
                        let _ = tx.send(tokio::time::Instant::now());
                    }
                    ctx.cancellation().cancelled().await;
                    Err(TaskError::retry("cancelled"))
                }
            }),
        )
        .start()?;
    // The pool is shut down on every path, also when the cancel is not seen in time.
    let result = cancel_running(&queue, first, started).await;
    pool.shutdown().await;
    result
}

/// Cancels `id` once its handler started and checks that it ended `Cancelled`.
async fn cancel_running(
    queue: &TaskQueue,
    id: TaskId,
    started: tokio::sync::oneshot::Receiver<tokio::time::Instant>,
) -> Result<(), SectionError> {
    let since = tokio::time::timeout(Duration::from_secs(10), started).await.map_err(|_| "task did not start")??;
    queue.cancel(id).await?;
    let state = wait_final(queue, id).await?;
    println!("  cancel of a running task: {state:?} after {:?} (heartbeat: hourly)", since.elapsed());
    if state != TaskState::Cancelled {
        return Err("the running task was not cancelled".into());
    }
    Ok(())
}

async fn durable_inner(backend: &PostgresBackend) -> Result<(), SectionError> {
    let queue = TaskQueue::new(backend.clone());
    let mut client = backend.pool().get().await?;
    let tx = client.transaction().await?;
    let ghost = backend.submit_in(&tx, Task::new("email", "rolled-back@example.com")?).await?;
    tx.rollback().await?;
    let tx = client.transaction().await?;
    let real = backend.submit_in(&tx, Task::new("email", "committed@example.com")?).await?;
    tx.commit().await?;
    drop(client);
    println!(
        "  enqueue in the caller's transaction: rolled back → {:?}, committed → {:?}",
        queue.status(ghost).await?.map(|i| i.state),
        queue.status(real).await?.map(|i| i.state)
    );
    let many: Vec<Task> =
        (0..200).map(|i| Task::new("email", &format!("user{i}@example.com"))).collect::<Result<_, _>>()?;
    let ids = backend.submit_many(many).await?;
    let pool = WorkerPool::builder(&queue)
        .concurrency(32)
        .fetch_batch(100)
        .handler("email", handler_fn(|_: TaskContext, _to: String| async { Ok(()) }))
        .start()?;
    wait_final(&queue, real).await?;
    if let Some(last) = ids.last() {
        wait_final(&queue, *last).await?;
    }
    pool.shutdown().await;
    let stats = queue.stats().await?;
    println!(
        "  PostgreSQL pool: {} tasks completed, depth now {}; LISTEN/NOTIFY wake-up, leases with fencing tokens",
        stats.completed,
        stats.depth.normal + stats.depth.low + stats.depth.high + stats.depth.urgent + stats.depth.critical
    );
    Ok(())
}
