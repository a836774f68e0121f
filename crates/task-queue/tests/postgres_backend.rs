//! The PostgreSQL backend against the real server, each test in its own schema.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use perfstack_task_queue::postgres::{PostgresBackend, PostgresConfig};
use perfstack_task_queue::{
    handler_fn, Aging, Backend, CancelOutcome, Completion, ConfigError, Outcome, Priority, QueueError, Task,
    TaskContext, TaskId, TaskQueue, TaskState, WorkerPool,
};

async fn backend(db: &perfstack_testkit::PgSchema) -> PostgresBackend {
    PostgresBackend::connect(db.url(), PostgresConfig::in_schema(db.schema())).await.unwrap()
}

/// Waits (bounded, in real time, polling the database) until the task reaches `state`.
async fn wait_for(queue: &TaskQueue, id: TaskId, state: TaskState, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let now = queue.status(id).await.unwrap().map(|i| i.state);
        if now == Some(state) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "task {id} is {now:?}, expected {state:?} within {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits (bounded) until `pg_stat_activity` shows this schema's LISTEN session and a finished
/// fetch (`SKIP LOCKED`) on an idle connection: the pool has nothing left but to wait.
async fn wait_until_idle(db: &perfstack_testkit::PgSchema, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    let listen = format!("LISTEN \"tq_{}\"", db.schema());
    let fetch = format!("%\"{}\"%SKIP LOCKED%", db.schema());
    loop {
        let row = db
            .client()
            .query_one(
                "SELECT count(*) FILTER (WHERE query = $1), count(*) FILTER (WHERE query LIKE $2)
                 FROM pg_stat_activity WHERE state = 'idle' AND pid <> pg_backend_pid()",
                &[&listen, &fetch],
            )
            .await
            .unwrap();
        let (listening, fetched): (i64, i64) = (row.get(0), row.get(1));
        if listening > 0 && fetched > 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "pool not idle within {within:?} (listen sessions {listening}, idle fetches {fetched})"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn status_on_a_mismatched_schema_is_a_typed_error_not_a_panic() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let b = backend(&db).await;
    let id = b.submit(Task::new("t", &1).unwrap(), None).await.unwrap();
    db.client().batch_execute("ALTER TABLE tq_tasks ALTER COLUMN attempt TYPE bigint").await.unwrap();
    let err = b.status(id).await.unwrap_err();
    assert!(matches!(err, QueueError::RowMismatch { column: 4, .. }), "{err:?}");
}

#[tokio::test]
async fn migrations_are_versioned_and_applied_once() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let _a = backend(&db).await;
    let _b = backend(&db).await;
    let rows = db.client().query("SELECT version, name FROM tq_migrations ORDER BY version", &[]).await.unwrap();
    assert_eq!(rows.len(), perfstack_task_queue::postgres::MIGRATIONS.len());
    assert_eq!(rows[0].get::<_, i32>(0), 1);
}

#[tokio::test]
async fn invalid_schema_name_is_refused() {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let err = PostgresBackend::connect(&url, PostgresConfig::in_schema("x; drop table y")).await.unwrap_err();
    assert!(matches!(err, QueueError::Config(ConfigError::InvalidIdentifier(_))), "{err:?}");
}

#[tokio::test]
async fn a_pool_runs_tasks_and_notify_wakes_it_without_polling() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let queue = TaskQueue::new(backend(&db).await);
    let pool = WorkerPool::builder(&queue)
        .poll_interval(Duration::from_secs(3600))
        .handler(
            "double",
            handler_fn(|_: TaskContext, n: u64| async move {
                if n < 1000 {
                    Ok(())
                } else {
                    Err(perfstack_task_queue::TaskError::permanent("too big"))
                }
            }),
        )
        .start()
        .unwrap();
    // Wait until the pool is idle (its LISTEN session is up and a fetch has returned empty),
    // so that only a notification can wake it (polling is one hour).
    wait_until_idle(&db, Duration::from_secs(10)).await;
    let ok = queue.submit(Task::new("double", &21u64).unwrap()).await.unwrap();
    let dead = queue.submit(Task::new("double", &5000u64).unwrap()).await.unwrap();
    wait_for(&queue, ok, TaskState::Completed, Duration::from_secs(10)).await;
    wait_for(&queue, dead, TaskState::Dead, Duration::from_secs(10)).await;
    assert_eq!(queue.status(dead).await.unwrap().unwrap().last_error.as_deref(), Some("too big"));
    pool.shutdown().await;
}

#[tokio::test]
async fn enqueue_in_the_callers_transaction_exists_only_after_commit() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let b = backend(&db).await;
    let mut client = b.pool().get().await.unwrap();
    let tx = client.transaction().await.unwrap();
    let rolled_back = b.submit_in(&tx, Task::new("t", &1).unwrap()).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(b.status(rolled_back).await.unwrap(), None, "rolled back: no task");

    let tx = client.transaction().await.unwrap();
    let committed = b.submit_in(&tx, Task::new("t", &2).unwrap()).await.unwrap();
    assert_eq!(b.status(committed).await.unwrap(), None, "not visible before commit");
    tx.commit().await.unwrap();
    assert_eq!(b.status(committed).await.unwrap().unwrap().state, TaskState::Pending);
    let n: i64 = db.client().query_one("SELECT count(*) FROM tq_tasks", &[]).await.unwrap().get(0);
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_late_completion_from_an_old_lease_is_rejected() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let b = backend(&db).await;
    let id = b.submit(Task::new("t", &()).unwrap().max_attempts(5), None).await.unwrap();
    let first = b.fetch("old-worker", 10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(first.len(), 1);
    // The old worker stops heartbeating; its lease runs out.
    db.client().execute("UPDATE tq_tasks SET lease_until = now() - interval '1 second'", &[]).await.unwrap();
    assert_eq!(b.rescue_expired().await.unwrap(), 1);
    let second = b.fetch("new-worker", 10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(second.len(), 1);
    assert!(second[0].fence > first[0].fence);
    let old = Completion { id, fence: first[0].fence, outcome: Outcome::Completed };
    assert_eq!(b.complete(vec![old]).await.unwrap(), vec![id], "old fencing token rejected");
    let hb = b.heartbeat(&[(id, first[0].fence)], Duration::from_secs(30)).await.unwrap();
    assert_eq!(hb.lost, vec![id], "the old worker learns it lost the lease");
    assert_eq!(b.status(id).await.unwrap().unwrap().state, TaskState::Running);
    let new = Completion { id, fence: second[0].fence, outcome: Outcome::Completed };
    assert!(b.complete(vec![new]).await.unwrap().is_empty());
    let info = b.status(id).await.unwrap().unwrap();
    assert_eq!((info.state, info.attempts), (TaskState::Completed, 2));
}

#[tokio::test]
async fn expired_lease_out_of_attempts_is_dead_lettered() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let b = backend(&db).await;
    let id = b.submit(Task::new("t", &()).unwrap().max_attempts(1), None).await.unwrap();
    assert_eq!(b.fetch("w", 1, Duration::from_secs(30)).await.unwrap().len(), 1);
    db.client().execute("UPDATE tq_tasks SET lease_until = now() - interval '1 second'", &[]).await.unwrap();
    assert_eq!(b.rescue_expired().await.unwrap(), 1);
    let info = b.status(id).await.unwrap().unwrap();
    assert_eq!(info.state, TaskState::Dead);
    assert!(info.last_error.unwrap().contains("lease expired"));
}

#[tokio::test]
async fn fetch_orders_by_priority_with_aging_and_skips_delayed_tasks() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let cfg =
        PostgresConfig { aging: Aging::per_level(Duration::from_secs(1)), ..PostgresConfig::in_schema(db.schema()) };
    let b = PostgresBackend::connect(db.url(), cfg).await.unwrap();
    let low = b.submit(Task::new("t", &()).unwrap().priority(Priority::Low), None).await.unwrap();
    let crit = b.submit(Task::new("t", &()).unwrap().priority(Priority::Critical), None).await.unwrap();
    let _later = b
        .submit(Task::new("t", &()).unwrap().priority(Priority::Critical).delay(Duration::from_secs(3600)), None)
        .await
        .unwrap();
    let got = b.fetch("w", 1, Duration::from_secs(30)).await.unwrap();
    assert_eq!(got[0].id, crit, "fresh Critical before fresh Low");
    // A Low task that has waited more than four steps beats a fresh Critical one.
    db.client().execute("UPDATE tq_tasks SET run_at = run_at - interval '5 seconds', sort_at = sort_at - interval '5 seconds' WHERE id = $1", &[&low.0]).await.unwrap();
    let crit2 = b.submit(Task::new("t", &()).unwrap().priority(Priority::Critical), None).await.unwrap();
    let got = b.fetch("w", 10, Duration::from_secs(30)).await.unwrap();
    let ids: Vec<TaskId> = got.iter().map(|t| t.id).collect();
    assert_eq!(ids.len(), 2, "the delayed task is not fetched: {ids:?}");
    assert!(ids.contains(&low) && ids.contains(&crit2));
    let low_t = got.iter().find(|t| t.id == low).unwrap();
    assert!(low_t.waited >= Duration::from_secs(5));
    let d = b.depth().await.unwrap();
    assert_eq!(d, [0, 0, 0, 0, 1]);
}

#[tokio::test]
async fn unique_key_cancel_and_retention() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let b = backend(&db).await;
    let a = b.submit(Task::new("t", &()).unwrap().unique_key("k"), None).await.unwrap();
    match b.submit(Task::new("t", &()).unwrap().unique_key("k"), None).await {
        Err(QueueError::Duplicate { existing }) => assert_eq!(existing, a),
        other => panic!("expected a duplicate, got {other:?}"),
    }
    assert_eq!(b.cancel(a).await.unwrap(), CancelOutcome::Removed);
    assert_eq!(b.cancel(a).await.unwrap(), CancelOutcome::AlreadyFinished);
    assert_eq!(b.cancel(TaskId(987_654)).await.unwrap(), CancelOutcome::NotFound);
    let c = b.submit(Task::new("t", &()).unwrap().unique_key("k"), None).await.unwrap();
    let leased = b.fetch("w", 1, Duration::from_secs(30)).await.unwrap();
    assert_eq!(b.cancel(c).await.unwrap(), CancelOutcome::Signalled);
    let hb = b.heartbeat(&[(c, leased[0].fence)], Duration::from_secs(30)).await.unwrap();
    assert_eq!(hb.cancel_requested, vec![c], "the running handler learns of the cancel at its heartbeat");
    let retry = Outcome::Retry { delay: Duration::ZERO, error: "stopped".into() };
    assert!(b.complete(vec![Completion { id: c, fence: leased[0].fence, outcome: retry }]).await.unwrap().is_empty());
    assert_eq!(b.status(c).await.unwrap().unwrap().state, TaskState::Cancelled, "a cancelled task is not retried");
    db.client().execute("UPDATE tq_tasks SET finished_at = now() - interval '2 hours'", &[]).await.unwrap();
    assert_eq!(b.cleanup(Duration::from_secs(3600)).await.unwrap(), 2);
    assert_eq!(b.status(a).await.unwrap(), None);
}

#[tokio::test]
async fn bad_input_is_refused_or_dead_lettered() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let b = backend(&db).await;
    let queue = TaskQueue::with_limit(std::sync::Arc::new(b.clone()), 1000);
    assert!(matches!(
        queue.submit(Task::new("t", &vec![0u8; 2000]).unwrap()).await,
        Err(QueueError::PayloadTooLarge { .. })
    ));
    assert!(matches!(queue.submit(Task::from_json_bytes("t", b"{oops".to_vec())).await, Err(QueueError::Payload(_))));
    let unknown = queue.submit(Task::new("nobody", &()).unwrap().max_attempts(20)).await.unwrap();
    let bad = queue.submit(Task::new("typed", "text").unwrap().max_attempts(20)).await.unwrap();
    let pool = WorkerPool::builder(&queue)
        .handler("typed", handler_fn(|_: TaskContext, _n: u32| async { Ok(()) }))
        .start()
        .unwrap();
    for id in [unknown, bad] {
        wait_for(&queue, id, TaskState::Dead, Duration::from_secs(10)).await;
        let info = queue.status(id).await.unwrap().unwrap();
        assert_eq!(info.attempts, 1);
        assert!(info.last_error.is_some());
    }
    pool.shutdown().await;
}
