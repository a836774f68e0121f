//! Worker-pool behaviour: no starvation, graceful shutdown, tracing spans.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use perfstack_task_queue::{
    handler_fn, Aging, MemoryBackend, MemoryConfig, Priority, Task, TaskContext, TaskId, TaskQueue, TaskState,
    WorkerPool,
};
use tokio::time::Instant;

async fn wait_for(queue: &TaskQueue, id: TaskId, state: TaskState) {
    for _ in 0..1_000_000 {
        if queue.status(id).await.unwrap().map(|i| i.state) == Some(state) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("task {id} never reached {state:?}");
}

/// One worker, 10 ms per task, and a producer that offers twice that rate of `Critical` tasks
/// for a minute: strict priority would never run the `Low` task; aging (1 s per level) runs
/// it after the backlog ahead of it plus at most 4 s worth of later `Critical` arrivals.
#[tokio::test(start_paused = true)]
async fn low_priority_makes_progress_under_a_critical_flood() {
    let cfg =
        MemoryConfig { capacity: 100_000, aging: Aging::per_level(Duration::from_secs(1)), ..MemoryConfig::default() };
    let queue = TaskQueue::new(MemoryBackend::new(cfg));
    let low_started = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let ls = Arc::clone(&low_started);
    let pool = WorkerPool::builder(&queue)
        .concurrency(1)
        .fetch_batch(1)
        .handler(
            "work",
            handler_fn(move |ctx: TaskContext, (): ()| {
                let ls = Arc::clone(&ls);
                async move {
                    if ctx.priority() == Priority::Low {
                        ls.lock().push(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    Ok(())
                }
            }),
        )
        .start()
        .unwrap();
    let q = queue.clone();
    let flood = tokio::spawn(async move {
        // 200 Critical tasks/s for 60 s: twice what the worker can do.
        for _ in 0..12_000 {
            q.submit(Task::new("work", &()).unwrap().priority(Priority::Critical)).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    tokio::time::sleep(Duration::from_secs(10)).await;
    let backlog = queue.stats().await.unwrap().depth.critical;
    let submitted_at = Instant::now();
    let mut lows = Vec::new();
    for _ in 0..5 {
        lows.push(queue.submit(Task::new("work", &()).unwrap().priority(Priority::Low)).await.unwrap());
    }
    for id in &lows {
        wait_for(&queue, *id, TaskState::Completed).await;
    }
    let waited = *low_started.lock().last().unwrap() - submitted_at;
    // Low waits for the Critical backlog already queued plus the Critical tasks that arrive in
    // the next 4 s (4 steps of head start: 800 tasks), at 10 ms each, and not one task more.
    // Strict priority would keep it waiting until the flood ends (t = 60 s) and drains.
    let bound = Duration::from_millis(10 * (backlog + 800 + 5 + 2));
    assert!(backlog > 500, "the worker was overloaded: backlog {backlog}");
    assert!(waited <= bound, "Low waited {waited:?}, bound {bound:?} (backlog {backlog})");
    assert!(!flood.is_finished(), "the flood was still going when Low ran");
    flood.abort();
    pool.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_short_tasks_finish_and_hands_back_long_ones() {
    let queue = TaskQueue::memory();
    let pool = WorkerPool::builder(&queue)
        .concurrency(4)
        .grace(Duration::from_secs(5))
        .handler(
            "sleep",
            handler_fn(|_: TaskContext, secs: u64| async move {
                tokio::time::sleep(Duration::from_secs(secs)).await;
                Ok(())
            }),
        )
        .start()
        .unwrap();
    let short = queue.submit(Task::new("sleep", &2u64).unwrap()).await.unwrap();
    let long = queue.submit(Task::new("sleep", &60u64).unwrap()).await.unwrap();
    wait_for(&queue, long, TaskState::Running).await;
    let t0 = Instant::now();
    let report = pool.shutdown().await;
    let took = Instant::now() - t0;
    assert!(took >= Duration::from_secs(5) && took < Duration::from_secs(6), "{took:?}");
    assert!(!report.finished_in_grace);
    assert_eq!(report.handed_back, 1);
    assert_eq!(queue.status(short).await.unwrap().unwrap().state, TaskState::Completed);
    let info = queue.status(long).await.unwrap().unwrap();
    assert_eq!((info.state, info.attempts), (TaskState::Pending, 0), "handed back, attempt not counted");
    // A later submit is not picked up by the stopped pool.
    let later = queue.submit(Task::new("sleep", &0u64).unwrap()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(queue.status(later).await.unwrap().unwrap().state, TaskState::Pending);
    assert_eq!(pool.shutdown().await.handed_back, 0, "second shutdown is a no-op");
}

/// Worker loops write an attempt's outcome together with their next fetch: after shutdown the
/// last outcome of every loop must still have been written (none left Running).
#[tokio::test]
async fn every_outcome_is_written_by_the_time_shutdown_returns() {
    let queue = TaskQueue::new(MemoryBackend::default());
    let pool = WorkerPool::builder(&queue)
        .concurrency(4)
        .handler("noop", handler_fn(|_: TaskContext, (): ()| async { Ok(()) }))
        .start()
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..200 {
        ids.push(queue.submit(Task::new("noop", &()).unwrap()).await.unwrap());
    }
    // Stop while the loops are busy: each has just run an attempt whose outcome it still holds.
    pool.shutdown().await;
    let mut pending = 0;
    for id in ids {
        match queue.status(id).await.unwrap().unwrap().state {
            TaskState::Completed => {}
            TaskState::Pending => pending += 1,
            other => panic!("task {id} left {other:?} after shutdown"),
        }
    }
    assert_eq!(queue.stats().await.unwrap().depth.normal, pending);
}

/// Finished tasks are kept as small records up to `retention_max`; older ones are forgotten.
#[tokio::test]
async fn finished_records_are_kept_up_to_retention_max() {
    let cfg = MemoryConfig { retention_max: 10, ..MemoryConfig::default() };
    let queue = TaskQueue::new(MemoryBackend::new(cfg));
    let pool = WorkerPool::builder(&queue)
        .concurrency(1)
        .handler("noop", handler_fn(|_: TaskContext, (): ()| async { Ok(()) }))
        .start()
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..30 {
        let id = queue.submit(Task::new("noop", &()).unwrap()).await.unwrap();
        wait_for(&queue, id, TaskState::Completed).await;
        ids.push(id);
    }
    pool.shutdown().await;
    let info = queue.status(ids[29]).await.unwrap().unwrap();
    assert_eq!((info.state, info.attempts, info.kind.as_str()), (TaskState::Completed, 1, "noop"));
    assert_eq!(queue.cancel(ids[29]).await.unwrap(), perfstack_task_queue::CancelOutcome::AlreadyFinished);
    assert_eq!(queue.status(ids[0]).await.unwrap(), None, "the oldest record was purged");
    assert_eq!(queue.cancel(ids[0]).await.unwrap(), perfstack_task_queue::CancelOutcome::NotFound);
}
