//! Lifecycle of tasks on the in-memory backend, with paused time where timers matter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use perfstack_task_queue::{
    handler_fn, BackoffPolicy, CancelOutcome, MemoryBackend, MemoryConfig, QueueError, Task, TaskContext, TaskError,
    TaskId, TaskQueue, TaskState, WhenFull, WorkerPool,
};
use tokio::time::Instant;

async fn wait_for(queue: &TaskQueue, id: TaskId, state: TaskState) {
    for _ in 0..1_000_000 {
        if queue.status(id).await.unwrap().map(|i| i.state) == Some(state) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("task {id} never reached {state:?}: {:?}", queue.status(id).await.unwrap());
}

#[test]
fn handles_are_send_sync() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<TaskQueue>();
    assert_send_sync::<WorkerPool>();
    assert_send_sync::<MemoryBackend>();
}

#[tokio::test(start_paused = true)]
async fn retries_wait_for_the_backoff_delay_then_complete() {
    let queue = TaskQueue::memory();
    let starts = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&starts);
    let pool = WorkerPool::builder(&queue)
        .handler(
            "flaky",
            handler_fn(move |ctx: TaskContext, (): ()| {
                let s = Arc::clone(&s);
                async move {
                    s.lock().push(Instant::now());
                    if ctx.attempt() < 3 {
                        Err(TaskError::retry("not yet"))
                    } else {
                        Ok(())
                    }
                }
            }),
        )
        .start()
        .unwrap();
    let t0 = Instant::now();
    let backoff = BackoffPolicy::exponential(Duration::from_secs(10), Duration::from_secs(60));
    let id = queue.submit(Task::new("flaky", &()).unwrap().max_attempts(5).backoff(backoff)).await.unwrap();
    wait_for(&queue, id, TaskState::Completed).await;
    let starts = starts.lock().clone();
    assert_eq!(starts.len(), 3);
    let gap1 = starts[1] - starts[0];
    let gap2 = starts[2] - starts[1];
    assert!(gap1 >= Duration::from_secs(10) && gap1 < Duration::from_secs(11), "{gap1:?}");
    assert!(gap2 >= Duration::from_secs(20) && gap2 < Duration::from_secs(21), "{gap2:?}");
    assert!(starts[0] - t0 < Duration::from_secs(1));
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.retried, stats.completed), (2, 1));
    pool.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn out_of_attempts_goes_to_dead_letter_with_the_last_error() {
    let queue = TaskQueue::memory();
    let pool = WorkerPool::builder(&queue)
        .handler(
            "always_fails",
            handler_fn(
                |ctx: TaskContext, (): ()| async move { Err(TaskError::retry(format!("boom {}", ctx.attempt()))) },
            ),
        )
        .start()
        .unwrap();
    let task = Task::new("always_fails", &())
        .unwrap()
        .max_attempts(3)
        .backoff(BackoffPolicy::constant(Duration::from_secs(1)));
    let id = queue.submit(task).await.unwrap();
    wait_for(&queue, id, TaskState::Dead).await;
    let info = queue.status(id).await.unwrap().unwrap();
    assert_eq!(info.attempts, 3);
    assert_eq!(info.last_error.as_deref(), Some("boom 3"));
    pool.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn delayed_task_does_not_start_before_its_time() {
    let queue = TaskQueue::memory();
    let started = Arc::new(Mutex::new(None));
    let s = Arc::clone(&started);
    let pool = WorkerPool::builder(&queue)
        .poll_interval(Duration::from_secs(3600))
        .handler(
            "later",
            handler_fn(move |_: TaskContext, (): ()| {
                let s = Arc::clone(&s);
                async move {
                    *s.lock() = Some(Instant::now());
                    Ok(())
                }
            }),
        )
        .start()
        .unwrap();
    let t0 = Instant::now();
    let id = queue.submit(Task::new("later", &()).unwrap().delay(Duration::from_secs(60))).await.unwrap();
    tokio::time::sleep(Duration::from_secs(59)).await;
    assert_eq!(queue.status(id).await.unwrap().unwrap().state, TaskState::Pending);
    wait_for(&queue, id, TaskState::Completed).await;
    let at = started.lock().unwrap() - t0;
    assert!(at >= Duration::from_secs(60) && at < Duration::from_secs(61), "{at:?}");
    pool.shutdown().await;
}

/// A delayed task submitted while every worker already waits for work runs at its time, not at
/// the workers' next poll (an hour here). Before the fix the waiting workers slept on: their
/// deadline was set before the task existed.
#[tokio::test(start_paused = true)]
async fn a_task_delayed_while_the_workers_wait_runs_at_its_time() {
    let queue = TaskQueue::memory();
    let started = Arc::new(Mutex::new(None));
    let s = Arc::clone(&started);
    let pool = WorkerPool::builder(&queue)
        .concurrency(2)
        .poll_interval(Duration::from_secs(3600))
        .handler(
            "later",
            handler_fn(move |_: TaskContext, (): ()| {
                let s = Arc::clone(&s);
                async move {
                    *s.lock() = Some(Instant::now());
                    Ok(())
                }
            }),
        )
        .start()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await; // the workers found nothing and wait
    let t0 = Instant::now();
    let id = queue.submit(Task::new("later", &()).unwrap().delay(Duration::from_secs(10))).await.unwrap();
    wait_for(&queue, id, TaskState::Completed).await;
    let at = started.lock().unwrap() - t0;
    assert!(at >= Duration::from_secs(10) && at < Duration::from_secs(11), "{at:?}");
    pool.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn timeout_cancels_the_attempt_and_counts_as_a_failure() {
    let queue = TaskQueue::memory();
    let saw_cancel = Arc::new(AtomicU32::new(0));
    let c = Arc::clone(&saw_cancel);
    let pool = WorkerPool::builder(&queue)
        .handler(
            "slow",
            handler_fn(move |ctx: TaskContext, (): ()| {
                let c = Arc::clone(&c);
                let token = ctx.cancellation().clone();
                tokio::spawn(async move {
                    token.cancelled().await;
                    c.fetch_add(1, Ordering::SeqCst);
                });
                async move {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Ok(())
                }
            }),
        )
        .start()
        .unwrap();
    let task = Task::new("slow", &())
        .unwrap()
        .timeout(Duration::from_secs(5))
        .max_attempts(2)
        .backoff(BackoffPolicy::constant(Duration::from_secs(1)));
    let t0 = Instant::now();
    let id = queue.submit(task).await.unwrap();
    wait_for(&queue, id, TaskState::Dead).await;
    let took = Instant::now() - t0;
    assert!(took >= Duration::from_secs(11) && took < Duration::from_secs(12), "{took:?}");
    let info = queue.status(id).await.unwrap().unwrap();
    assert!(info.last_error.unwrap().contains("timed out"));
    tokio::task::yield_now().await;
    assert_eq!(saw_cancel.load(Ordering::SeqCst), 2, "the handler's token fired on each timeout");
    assert_eq!(queue.stats().await.unwrap().timed_out, 2);
    pool.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn panicking_handler_is_recorded_as_a_failure_and_the_pool_keeps_running() {
    let queue = TaskQueue::memory();
    let pool = WorkerPool::builder(&queue)
        .handler(
            "panics",
            handler_fn(|ctx: TaskContext, (): ()| async move {
                if ctx.attempt() == 1 {
                    panic!("handler bug");
                }
                Ok(())
            }),
        )
        .handler("ok", handler_fn(|_: TaskContext, (): ()| async { Ok(()) }))
        .start()
        .unwrap();
    let backoff = BackoffPolicy::constant(Duration::from_millis(10));
    let a = queue.submit(Task::new("panics", &()).unwrap().backoff(backoff)).await.unwrap();
    wait_for(&queue, a, TaskState::Completed).await;
    let b = queue.submit(Task::new("ok", &()).unwrap()).await.unwrap();
    wait_for(&queue, b, TaskState::Completed).await;
    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.panicked, 1);
    assert_eq!(queue.status(a).await.unwrap().unwrap().attempts, 2);
    pool.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn unknown_kind_and_unreadable_payload_are_dead_lettered_at_once() {
    let queue = TaskQueue::memory();
    let pool = WorkerPool::builder(&queue)
        .handler("typed", handler_fn(|_: TaskContext, _n: u64| async { Ok(()) }))
        .start()
        .unwrap();
    let unknown = queue.submit(Task::new("nobody", &()).unwrap().max_attempts(10)).await.unwrap();
    let bad = queue.submit(Task::new("typed", "not a number").unwrap().max_attempts(10)).await.unwrap();
    let garbage = queue.submit(Task::from_json_bytes("typed", b"{nope".to_vec()).max_attempts(10)).await.unwrap();
    for id in [unknown, bad, garbage] {
        wait_for(&queue, id, TaskState::Dead).await;
        let info = queue.status(id).await.unwrap().unwrap();
        assert_eq!(info.attempts, 1, "never retried");
        assert!(info.last_error.is_some());
    }
    let err = queue.status(unknown).await.unwrap().unwrap().last_error.unwrap();
    assert!(err.contains("no handler"), "{err}");
    let err = queue.status(bad).await.unwrap().unwrap().last_error.unwrap();
    assert!(err.contains("does not deserialize"), "{err}");
    pool.shutdown().await;
}

#[tokio::test]
async fn oversized_payload_and_empty_kind_are_refused_at_submit() {
    let queue = TaskQueue::with_limit(Arc::new(MemoryBackend::default()), 1024);
    let big = vec![7u8; 2000];
    let err = queue.submit(Task::new("x", &big).unwrap()).await.unwrap_err();
    assert!(matches!(err, QueueError::PayloadTooLarge { limit: 1024, .. }), "{err}");
    assert!(matches!(queue.submit(Task::new("", &()).unwrap()).await, Err(QueueError::InvalidKind(_))));
    assert_eq!(queue.stats().await.unwrap().refused, 2);
}

#[tokio::test(start_paused = true)]
async fn unique_key_refuses_a_duplicate_until_the_first_finishes() {
    let queue = TaskQueue::memory();
    let a = queue.submit(Task::new("k", &()).unwrap().unique_key("u1")).await.unwrap();
    let dup = queue.submit(Task::new("k", &()).unwrap().unique_key("u1")).await;
    assert!(matches!(dup, Err(QueueError::Duplicate { existing }) if existing == a));
    let pool = WorkerPool::builder(&queue)
        .handler("k", handler_fn(|_: TaskContext, (): ()| async { Ok(()) }))
        .start()
        .unwrap();
    wait_for(&queue, a, TaskState::Completed).await;
    let b = queue.submit(Task::new("k", &()).unwrap().unique_key("u1")).await.unwrap();
    assert_ne!(a, b);
    pool.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn cancel_removes_a_pending_task_and_signals_a_running_one() {
    let queue = TaskQueue::memory();
    let pending = queue.submit(Task::new("wait", &()).unwrap().delay(Duration::from_secs(100))).await.unwrap();
    assert_eq!(queue.cancel(pending).await.unwrap(), CancelOutcome::Removed);
    assert_eq!(queue.status(pending).await.unwrap().unwrap().state, TaskState::Cancelled);

    let pool = WorkerPool::builder(&queue)
        .handler(
            "wait",
            handler_fn(|ctx: TaskContext, (): ()| async move {
                ctx.cancellation().cancelled().await;
                Err(TaskError::retry("stopped by cancellation"))
            }),
        )
        .start()
        .unwrap();
    let running = queue.submit(Task::new("wait", &()).unwrap()).await.unwrap();
    wait_for(&queue, running, TaskState::Running).await;
    assert_eq!(queue.cancel(running).await.unwrap(), CancelOutcome::Signalled);
    wait_for(&queue, running, TaskState::Cancelled).await;
    assert_eq!(queue.cancel(running).await.unwrap(), CancelOutcome::AlreadyFinished);
    assert_eq!(queue.cancel(TaskId(999_999)).await.unwrap(), CancelOutcome::NotFound);
    tokio::time::sleep(Duration::from_secs(200)).await;
    assert_eq!(queue.status(pending).await.unwrap().unwrap().state, TaskState::Cancelled, "never ran");
    pool.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn full_queue_refuses_or_makes_the_producer_wait() {
    let cfg = MemoryConfig { capacity: 2, when_full: WhenFull::Reject, ..MemoryConfig::default() };
    let queue = TaskQueue::new(MemoryBackend::new(cfg));
    queue.submit(Task::new("n", &()).unwrap()).await.unwrap();
    queue.submit(Task::new("n", &()).unwrap()).await.unwrap();
    assert!(matches!(queue.submit(Task::new("n", &()).unwrap()).await, Err(QueueError::Full { capacity: 2 })));

    let cfg = MemoryConfig { capacity: 2, when_full: WhenFull::Wait, ..MemoryConfig::default() };
    let queue = TaskQueue::new(MemoryBackend::new(cfg));
    queue.submit(Task::new("n", &()).unwrap()).await.unwrap();
    queue.submit(Task::new("n", &()).unwrap()).await.unwrap();
    let q = queue.clone();
    let third = tokio::spawn(async move { q.submit(Task::new("n", &()).unwrap()).await });
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(!third.is_finished(), "the producer waits while the queue is full");
    let pool = WorkerPool::builder(&queue)
        .handler("n", handler_fn(|_: TaskContext, (): ()| async { Ok(()) }))
        .start()
        .unwrap();
    let id = third.await.unwrap().unwrap();
    wait_for(&queue, id, TaskState::Completed).await;
    pool.shutdown().await;
}

#[test]
fn priority_is_the_shared_resilience_type() {
    fn same(p: perfstack_resilience::Priority) -> perfstack_task_queue::Priority {
        p
    }
    assert_eq!(same(perfstack_resilience::Priority::Low), perfstack_task_queue::Priority::Low);
}
