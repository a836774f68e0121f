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
async fn a_waiting_submit_is_inserted_only_after_the_first_task_completed() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let queue = TaskQueue::new(bounded(&db, 1, WhenFull::Wait, Duration::from_secs(20)).await);
    let first = queue.submit(task()).await.unwrap();
    let q = queue.clone();
    let second = tokio::spawn(async move { q.submit(task()).await });
    let pool = WorkerPool::builder(&queue)
        .handler("job", handler_fn(|_: TaskContext, (): ()| async { Ok(()) }))
        .start()
        .unwrap();
    let second = tokio::time::timeout(Duration::from_secs(20), second).await.expect("woken within 20 s").unwrap();
    let second = second.unwrap();
    // The second row was inserted (its `created_at`, the insert's transaction time) no earlier
    // than the first one's completion was written: it could not enter while the first was there.
    let row = db
        .client()
        .query_one(
            "SELECT (SELECT finished_at FROM tq_tasks WHERE id = $1) <= (SELECT created_at FROM tq_tasks WHERE id = $2)",
            &[&first.0, &second.0],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<bool>>(0), Some(true), "second inserted before the first completed");
    let deadline = Instant::now() + Duration::from_secs(10);
    while queue.status(second).await.unwrap().unwrap().state != TaskState::Completed {
        assert!(Instant::now() < deadline, "second task not run");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    pool.shutdown().await;
}

/// More waiting submitters than pooled connections, while workers run: waiting for room holds no
/// connection, so fetches and completions go on, room is made, and every submit gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_submitters_do_not_starve_the_workers_of_connections() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let cfg = PostgresConfig {
        pool_size: 2,
        max_pending: Some(2),
        when_full: WhenFull::Wait,
        full_wait: Duration::from_secs(20),
        ..PostgresConfig::in_schema(db.schema())
    };
    let queue = TaskQueue::new(PostgresBackend::connect(db.url(), cfg).await.unwrap());
    let pool = WorkerPool::builder(&queue)
        .handler("job", handler_fn(|_: TaskContext, (): ()| async { Ok(()) }))
        .start()
        .unwrap();
    let submitters: Vec<_> = (0..8)
        .map(|_| {
            let q = queue.clone();
            tokio::spawn(async move {
                for _ in 0..3 {
                    q.submit(task()).await?;
                }
                Ok::<_, QueueError>(())
            })
        })
        .collect();
    let all = tokio::time::timeout(Duration::from_secs(20), futures::future::join_all(submitters))
        .await
        .expect("submitters done within 20 s");
    for r in all {
        r.unwrap().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let done: i64 =
            db.client().query_one("SELECT count(*) FROM tq_tasks WHERE state = 3", &[]).await.unwrap().get(0);
        if done == 24 {
            break;
        }
        assert!(Instant::now() < deadline, "only {done} of 24 tasks completed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pool.shutdown().await;
}

/// Concurrent submits in one process never pass the bound: fast-path admissions whose inserts
/// are still in flight are carried over when the gate counts again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submits_of_one_process_admit_exactly_the_bound() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let queue = TaskQueue::new(bounded(&db, 10, WhenFull::Reject, Duration::ZERO).await);
    let submits: Vec<_> = (0..50)
        .map(|_| {
            let q = queue.clone();
            tokio::spawn(async move { q.submit(task()).await })
        })
        .collect();
    let mut ok = 0;
    for r in futures::future::join_all(submits).await {
        match r.unwrap() {
            Ok(_) => ok += 1,
            Err(QueueError::Full { capacity: 10 }) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    let active: i64 =
        db.client().query_one("SELECT count(*) FROM tq_tasks WHERE state <= 2", &[]).await.unwrap().get(0);
    assert!(active <= 10, "{active} pending past a bound of 10");
    assert_eq!(ok, 10);
}

/// `submit_in` holds no lock of this process across the caller's INSERT: a transaction blocked
/// on another's unique key does not stop that other transaction from submitting again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_in_blocked_on_a_unique_key_does_not_block_the_holder() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    // A bound of 2: every admission after the first one counts (no fast path), so B's counts
    // near the bound while its INSERT waits.
    let backend = bounded(&db, 2, WhenFull::Reject, Duration::ZERO).await;
    let mut a = backend.pool().get().await.unwrap();
    let tx_a = a.transaction().await.unwrap();
    backend.submit_in(&tx_a, task().unique_key("k")).await.unwrap();
    let b_backend = backend.clone();
    let blocked = tokio::spawn(async move {
        let mut b = b_backend.pool().get().await.unwrap();
        let tx_b = b.transaction().await.unwrap();
        let res = b_backend.submit_in(&tx_b, task().unique_key("k")).await;
        tx_b.rollback().await.unwrap();
        res
    });
    // Until B's INSERT waits on A's row lock.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n: i64 = db
            .client()
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if n > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "B never waited on A's row");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Answered at once: B's admission in flight takes the second place, so A is refused.
    let second = tokio::time::timeout(Duration::from_secs(10), backend.submit_in(&tx_a, task()))
        .await
        .expect("A's second submit_in is not blocked by B");
    assert!(matches!(second, Err(QueueError::Full { capacity: 2 })), "{second:?}");
    tx_a.commit().await.unwrap();
    let res = tokio::time::timeout(Duration::from_secs(10), blocked).await.unwrap().unwrap();
    assert!(matches!(res, Err(QueueError::Duplicate { .. })), "{res:?}");
}

#[tokio::test]
async fn unworkable_bounds_are_refused_when_connecting() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let zero = PostgresConfig { max_pending: Some(0), ..PostgresConfig::in_schema(db.schema()) };
    let err = PostgresBackend::connect(db.url(), zero).await.unwrap_err();
    assert!(matches!(err, QueueError::Config(_)), "{err:?}");
    let huge = PostgresConfig {
        max_pending: Some(5),
        when_full: WhenFull::Reject,
        full_wait: Duration::MAX,
        ..PostgresConfig::in_schema(db.schema())
    };
    let err = PostgresBackend::connect(db.url(), huge).await.unwrap_err();
    assert!(matches!(err, QueueError::Config(_)), "{err:?}");
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
