//! `Duration::MAX` (and other durations no clock can add) in a task's settings, a handler's
//! backoff, a pool's settings and the backend calls: never a panic, on either backend.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use perfstack_task_queue::{
    handler_fn, Backend, Backoff, CancelOutcome, ConfigError, MemoryBackend, QueueError, Task, TaskContext, TaskError,
    TaskId, TaskQueue, TaskState, WorkerPool,
};
use tokio::time::Instant;

/// Waits (real time, bounded) for `state`; returns whether it was reached.
async fn reaches(queue: &TaskQueue, id: TaskId, state: TaskState, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if queue.status(id).await.unwrap().map(|i| i.state) == Some(state) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

fn ok_handler() -> impl perfstack_task_queue::TaskHandler {
    handler_fn(|_: TaskContext, (): ()| async { Ok(()) })
}

/// Before the fix `submit` panicked adding the delay to the clock, after it had taken the
/// unique key: a task never stored held the key, refusing every later task with that key.
#[tokio::test]
async fn a_delay_of_duration_max_parks_the_task_and_its_unique_key_stays_consistent() {
    let queue = TaskQueue::new(MemoryBackend::default());
    let id = queue.submit(Task::new("k", &()).unwrap().delay(Duration::MAX).unique_key("key")).await.unwrap();
    assert_eq!(queue.status(id).await.unwrap().map(|i| i.state), Some(TaskState::Pending));
    let dup = queue.submit(Task::new("k", &()).unwrap().unique_key("key")).await;
    assert!(matches!(dup, Err(QueueError::Duplicate { existing }) if existing == id), "{dup:?}");
    assert_eq!(queue.cancel(id).await.unwrap(), CancelOutcome::Removed);
    queue.submit(Task::new("k", &()).unwrap().unique_key("key")).await.unwrap();
}

/// Before the fix the worker loop panicked computing the deadline, outside the handler's panic
/// capture: the task stayed running forever and the pool ran nothing more, while its shutdown
/// reported a clean finish.
#[tokio::test]
async fn a_timeout_of_duration_max_is_no_timeout_and_the_pool_keeps_running() {
    let queue = TaskQueue::new(MemoryBackend::default());
    let pool = WorkerPool::builder(&queue).concurrency(1).handler("ok", ok_handler()).start().unwrap();
    let a = queue.submit(Task::new("ok", &()).unwrap().timeout(Duration::MAX)).await.unwrap();
    assert!(reaches(&queue, a, TaskState::Completed, Duration::from_secs(5)).await);
    let b = queue.submit(Task::new("ok", &()).unwrap()).await.unwrap();
    assert!(reaches(&queue, b, TaskState::Completed, Duration::from_secs(5)).await);
    let report = pool.shutdown().await;
    assert!(report.finished_in_grace && report.handed_back == 0);
}

#[derive(Debug)]
struct Forever;

impl Backoff for Forever {
    fn delay(&self, _attempt: u32) -> Option<Duration> {
        Some(Duration::MAX)
    }
}

/// A handler's own backoff returning `Duration::MAX`: the retry is parked (clamped to
/// `MAX_DELAY`), the task shows `Failed` with its error, and the pool keeps running. Before the
/// fix the memory backend panicked adding the delay, killing the worker loop.
#[tokio::test]
async fn a_retry_delay_of_duration_max_parks_the_retry_and_the_pool_keeps_running() {
    let queue = TaskQueue::new(MemoryBackend::default());
    let pool = WorkerPool::builder(&queue)
        .concurrency(1)
        .handler_with_backoff(
            "fail",
            handler_fn(|_: TaskContext, (): ()| async { Err(TaskError::retry("x")) }),
            Forever,
        )
        .handler("ok", ok_handler())
        .start()
        .unwrap();
    let a = queue.submit(Task::new("fail", &()).unwrap()).await.unwrap();
    assert!(reaches(&queue, a, TaskState::Failed, Duration::from_secs(5)).await);
    let b = queue.submit(Task::new("ok", &()).unwrap()).await.unwrap();
    assert!(reaches(&queue, b, TaskState::Completed, Duration::from_secs(5)).await);
    assert_eq!(queue.status(a).await.unwrap().unwrap().last_error.as_deref(), Some("x"));
    pool.shutdown().await;
}

#[derive(Debug)]
struct Panics;

impl Backoff for Panics {
    fn delay(&self, _attempt: u32) -> Option<Duration> {
        panic!("a backoff bug")
    }
}

/// User code runs around the handler too (its own backoff, a metrics recorder, a tracing
/// subscriber). A panic there ends the attempt as dead with the message; the pool keeps
/// running. Before the fix it ended the worker loop, leaving the task running forever.
#[tokio::test]
async fn a_panic_around_the_handler_dead_letters_the_task_and_the_pool_keeps_running() {
    let queue = TaskQueue::new(MemoryBackend::default());
    let pool = WorkerPool::builder(&queue)
        .concurrency(1)
        .handler_with_backoff("fail", handler_fn(|_: TaskContext, (): ()| async { Err(TaskError::retry("x")) }), Panics)
        .handler("ok", ok_handler())
        .start()
        .unwrap();
    let a = queue.submit(Task::new("fail", &()).unwrap()).await.unwrap();
    assert!(reaches(&queue, a, TaskState::Dead, Duration::from_secs(5)).await);
    let err = queue.status(a).await.unwrap().unwrap().last_error.unwrap();
    assert!(err.contains("a backoff bug"), "{err}");
    let b = queue.submit(Task::new("ok", &()).unwrap()).await.unwrap();
    assert!(reaches(&queue, b, TaskState::Completed, Duration::from_secs(5)).await);
    assert_eq!(pool.running(), 0, "the in-flight count was given back");
    pool.shutdown().await;
}

/// Before the fix every worker loop panicked in its first idle wait (`now + poll_interval`)
/// while shutdown still reported a clean finish. A poll interval over a day (or zero) is now
/// refused when the pool starts; the backend's own wait takes any duration.
#[tokio::test]
async fn a_poll_interval_of_duration_max_is_refused_and_the_backend_wait_takes_it() {
    let queue = TaskQueue::new(MemoryBackend::default());
    for d in [Duration::MAX, Duration::ZERO] {
        let err = WorkerPool::builder(&queue).poll_interval(d).handler("ok", ok_handler()).start().unwrap_err();
        assert!(matches!(&err, ConfigError::DurationOutOfRange { name: "poll_interval", .. }), "{err}");
    }
    let backend = MemoryBackend::default();
    let waiter = {
        let b = backend.clone();
        tokio::spawn(async move { b.wait_for_work(Duration::MAX).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    backend.submit(Task::new("x", &()).unwrap(), None).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap();
    backend.cleanup(Duration::MAX).await.unwrap();
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use perfstack_task_queue::postgres::{PostgresBackend, PostgresConfig};

    /// Before the fix a delay of `Duration::MAX` and `cleanup(Duration::MAX)` failed with
    /// "timestamp out of range".
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_takes_duration_max_delays_timeouts_and_cleanups() {
        let Some(db) = perfstack_testkit::require_postgres().await else { return };
        let backend = PostgresBackend::connect(db.url(), PostgresConfig::in_schema(db.schema())).await.unwrap();
        let queue = TaskQueue::new(backend.clone());
        let parked = queue.submit(Task::new("ok", &()).unwrap().delay(Duration::MAX)).await.unwrap();
        let pool = WorkerPool::builder(&queue).handler("ok", ok_handler()).start().unwrap();
        let a = queue.submit(Task::new("ok", &()).unwrap().timeout(Duration::MAX)).await.unwrap();
        assert!(reaches(&queue, a, TaskState::Completed, Duration::from_secs(10)).await);
        assert_eq!(backend.cleanup(Duration::MAX).await.unwrap(), 0);
        assert_eq!(queue.status(parked).await.unwrap().unwrap().state, TaskState::Pending);
        pool.shutdown().await;
    }
}
