//! Cancelling a running task on PostgreSQL reaches its handler through LISTEN/NOTIFY, not at
//! the next heartbeat.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use perfstack_task_queue::postgres::{PostgresBackend, PostgresConfig};
use perfstack_task_queue::{handler_fn, CancelOutcome, Task, TaskContext, TaskError, TaskQueue, TaskState, WorkerPool};
use tokio::sync::{oneshot, Mutex};
use tokio::time::Instant;

/// Waits (bounded) until this schema's LISTEN session is idle: both channels are listened to
/// (the work channel is subscribed last).
async fn wait_until_listening(db: &perfstack_testkit::PgSchema, within: Duration) {
    let deadline = Instant::now() + within;
    let listen = format!("LISTEN \"tq_{}\"", db.schema());
    loop {
        let n: i64 = db
            .client()
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle' AND query = $1", &[&listen])
            .await
            .unwrap()
            .get(0);
        if n > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "no LISTEN session within {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The heartbeat runs once an hour here, so only the cancel notification can reach the
/// handler within the ten seconds the test allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_task_sees_its_cancellation_long_before_the_next_heartbeat() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let backend = PostgresBackend::connect(db.url(), PostgresConfig::in_schema(db.schema())).await.unwrap();
    let queue = TaskQueue::new(backend);
    let (started_tx, started_rx) = oneshot::channel::<()>();
    let (seen_tx, seen_rx) = oneshot::channel::<bool>();
    let signals = Arc::new(Mutex::new(Some((started_tx, seen_tx))));
    let pool = WorkerPool::builder(&queue)
        .lease(Duration::from_secs(3 * 3600)) // heartbeat: every hour
        .handler(
            "long",
            handler_fn(move |ctx: TaskContext, (): ()| {
                let signals = Arc::clone(&signals);
                async move {
                    let Some((started, seen)) = signals.lock().await.take() else { return Ok(()) };
                    let _ = started.send(());
                    let fired =
                        tokio::time::timeout(Duration::from_secs(10), ctx.cancellation().cancelled()).await.is_ok();
                    let _ = seen.send(fired);
                    if fired {
                        Err(TaskError::retry("cancelled"))
                    } else {
                        Ok(())
                    }
                }
            }),
        )
        .start()
        .unwrap();
    wait_until_listening(&db, Duration::from_secs(10)).await;
    let id = queue.submit(Task::new("long", &()).unwrap()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), started_rx).await.expect("handler started").unwrap();
    assert_eq!(queue.cancel(id).await.unwrap(), CancelOutcome::Signalled);
    let fired = tokio::time::timeout(Duration::from_secs(15), seen_rx).await.expect("handler returned").unwrap();
    assert!(fired, "the handler's token did not fire within 10 s (heartbeat every hour)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while queue.status(id).await.unwrap().unwrap().state != TaskState::Cancelled {
        assert!(Instant::now() < deadline, "task not cancelled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    pool.shutdown().await;
}

/// `PostgresBackend::listening` turns true once the LISTEN session is up (seen by the server),
/// and is false with `listen` off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listening_reports_the_listen_session() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let backend = PostgresBackend::connect(db.url(), PostgresConfig::in_schema(db.schema())).await.unwrap();
    assert!(backend.listening(Duration::from_secs(10)).await, "no LISTEN within 10 s");
    wait_until_listening(&db, Duration::from_secs(10)).await;
    let off = PostgresConfig { listen: false, ..PostgresConfig::in_schema(db.schema()) };
    let quiet = PostgresBackend::connect(db.url(), off).await.unwrap();
    assert!(!quiet.listening(Duration::from_millis(50)).await);
}
