//! The PostgreSQL backend's bound on pending + running tasks (`max_pending`), against the real
//! server, each test in its own schema.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use perfstack_task_queue::postgres::{PostgresBackend, PostgresConfig};
use perfstack_task_queue::{handler_fn, QueueError, Task, TaskContext, TaskQueue, TaskState, WhenFull, WorkerPool};
use tokio::time::Instant;

async fn bounded(db: &perfstack_testkit::PgSchema, max: usize, when_full: WhenFull, wait: Duration) -> PostgresBackend {
    let cfg =
        PostgresConfig { max_pending: Some(max), when_full, full_wait: wait, ..PostgresConfig::in_schema(db.schema()) };
    PostgresBackend::connect(db.url(), cfg).await.unwrap()
}

fn task() -> Task {
    Task::new("job", &()).unwrap()
}

#[tokio::test]
async fn a_full_queue_refuses_with_a_typed_error_and_accepts_again_when_room_is_made() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let queue = TaskQueue::new(bounded(&db, 3, WhenFull::Reject, Duration::ZERO).await);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(queue.submit(task()).await.unwrap());
    }
    let err = queue.submit(task()).await.unwrap_err();
    assert!(matches!(err, QueueError::Full { capacity: 3 }), "{err:?}");
    assert_eq!(queue.stats().await.unwrap().refused, 1);
    // Cancelling a pending task leaves room for exactly one more.
    queue.cancel(ids[0]).await.unwrap();
    queue.submit(task()).await.unwrap();
    assert!(matches!(queue.submit(task()).await, Err(QueueError::Full { .. })));
    let active: i64 =
        db.client().query_one("SELECT count(*) FROM tq_tasks WHERE state <= 2", &[]).await.unwrap().get(0);
    assert_eq!(active, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_submit_succeeds_once_a_task_completes() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let queue = TaskQueue::new(bounded(&db, 1, WhenFull::Wait, Duration::from_secs(20)).await);
    let first = queue.submit(task()).await.unwrap();
    let q = queue.clone();
    let second = tokio::spawn(async move { q.submit(task()).await });
    // No worker yet: the second submit has nowhere to go.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "submitted past the bound");
    let pool =
        WorkerPool::builder(&queue).handler("job", handler_fn(|_: TaskContext, (): ()| async { Ok(()) })).start();
    let second = tokio::time::timeout(Duration::from_secs(20), second).await.expect("woken within 20 s").unwrap();
    let second = second.unwrap();
    // Admitted only after the first one left the pending/running set.
    assert_eq!(queue.status(first).await.unwrap().unwrap().state, TaskState::Completed);
    let deadline = Instant::now() + Duration::from_secs(10);
    while queue.status(second).await.unwrap().unwrap().state != TaskState::Completed {
        assert!(Instant::now() < deadline, "second task not run");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    pool.shutdown().await;
}

#[tokio::test]
async fn a_waiting_submit_gives_up_with_full_after_the_configured_wait() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let wait = Duration::from_millis(300);
    let queue = TaskQueue::new(bounded(&db, 1, WhenFull::Wait, wait).await);
    queue.submit(task()).await.unwrap();
    let start = Instant::now();
    let err = queue.submit(task()).await.unwrap_err();
    assert!(matches!(err, QueueError::Full { capacity: 1 }), "{err:?}");
    assert!(start.elapsed() >= wait, "gave up after {:?}", start.elapsed());
}

#[tokio::test]
async fn submit_in_counts_the_transactions_own_tasks_against_the_bound() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let backend = bounded(&db, 2, WhenFull::Reject, Duration::ZERO).await;
    {
        let mut client = backend.pool().get().await.unwrap();
        let tx = client.transaction().await.unwrap();
        backend.submit_in(&tx, task()).await.unwrap();
        backend.submit_in(&tx, task()).await.unwrap();
        let err = backend.submit_in(&tx, task()).await.unwrap_err();
        assert!(matches!(err, QueueError::Full { capacity: 2 }), "{err:?}");
        tx.rollback().await.unwrap();
    }
    // Rolled back: the room is there again, and a committed transaction fills it.
    let mut client = backend.pool().get().await.unwrap();
    let tx = client.transaction().await.unwrap();
    backend.submit_in(&tx, task()).await.unwrap();
    tx.commit().await.unwrap();
    let queue = TaskQueue::new(backend.clone());
    queue.submit(task()).await.unwrap();
    let tx = client.transaction().await.unwrap();
    assert!(matches!(backend.submit_in(&tx, task()).await, Err(QueueError::Full { .. })));
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn without_a_bound_nothing_is_counted_or_refused() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let backend = PostgresBackend::connect(db.url(), PostgresConfig::in_schema(db.schema())).await.unwrap();
    let queue = TaskQueue::new(backend);
    for _ in 0..50 {
        queue.submit(task()).await.unwrap();
    }
    assert_eq!(queue.stats().await.unwrap().depth.normal, 50);
}
