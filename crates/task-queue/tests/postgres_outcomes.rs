//! Outcome writes on PostgreSQL: one bad outcome never poisons the batch it is written in.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use perfstack_task_queue::postgres::{PostgresBackend, PostgresConfig};
use perfstack_task_queue::{
    handler_fn, Backend, BackoffPolicy, Completion, Outcome, Task, TaskContext, TaskError, TaskId, TaskQueue,
    TaskState, WorkerPool, MAX_ERROR_LEN,
};
use tokio::time::Instant;

async fn backend(db: &perfstack_testkit::PgSchema) -> PostgresBackend {
    PostgresBackend::connect(db.url(), PostgresConfig::in_schema(db.schema())).await.unwrap()
}

/// Waits (real time, bounded) until every task in `ids` is `state`; returns how many are.
async fn wait_all(queue: &TaskQueue, ids: &[TaskId], state: TaskState, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let mut n = 0;
        for id in ids {
            n += usize::from(queue.status(*id).await.unwrap().map(|i| i.state) == Some(state));
        }
        if n == ids.len() || Instant::now() >= deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the handler of the poisoning test does with its payload.
const HEALTHY: u8 = 0;
const FAILS_WITH_MAX_BACKOFF: u8 = 1;
const FAILS_WITH_NUL: u8 = 2;
const PANICS_WITH_NUL: u8 = 3;

/// 30 healthy tasks and three bad ones (a retry delay of `Duration::MAX`, a NUL byte in an
/// error, a NUL byte in a panic message) run together, so their outcomes share the pool's
/// completion batches. Every healthy task runs exactly once; each bad one ends failed or dead
/// with its reason. Before the fix the batch failed as a whole, was retried, then given up:
/// the leases expired and the healthy tasks ran again and again (88 runs of 30, 1 completed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_outcome_never_poisons_a_batch() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let queue = TaskQueue::new(backend(&db).await);
    let mut healthy = Vec::new();
    for _ in 0..30 {
        healthy.push(queue.submit(Task::new("work", &HEALTHY).unwrap()).await.unwrap());
    }
    let max_backoff = Task::new("work", &FAILS_WITH_MAX_BACKOFF)
        .unwrap()
        .max_attempts(3)
        .backoff(BackoffPolicy::constant(Duration::MAX));
    let max_backoff = queue.submit(max_backoff).await.unwrap();
    let nul_error = queue.submit(Task::new("work", &FAILS_WITH_NUL).unwrap().max_attempts(1)).await.unwrap();
    let nul_panic = queue.submit(Task::new("work", &PANICS_WITH_NUL).unwrap().max_attempts(1)).await.unwrap();

    let runs: Arc<Mutex<HashMap<TaskId, u32>>> = Arc::default();
    let r = Arc::clone(&runs);
    // A short lease and a fast rescue, so that a task whose outcome was not written would be
    // rescued and run again within the test.
    let pool = WorkerPool::builder(&queue)
        .concurrency(64)
        .lease(Duration::from_secs(2))
        .rescue_interval(Duration::from_millis(200))
        .poll_interval(Duration::from_millis(100))
        .handler(
            "work",
            handler_fn(move |ctx: TaskContext, what: u8| {
                *r.lock().entry(ctx.id()).or_default() += 1;
                async move {
                    // All of them finish together: their outcomes go out in the same batches.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    match what {
                        HEALTHY => Ok(()),
                        FAILS_WITH_MAX_BACKOFF => Err(TaskError::retry("boom")),
                        FAILS_WITH_NUL => Err(TaskError::retry("bad\0byte")),
                        _ => panic!("bad\0panic"),
                    }
                }
            }),
        )
        .start()
        .unwrap();

    let completed = wait_all(&queue, &healthy, TaskState::Completed, Duration::from_secs(20)).await;
    // Longer than a lease and several rescue rounds: a task run twice would show now.
    tokio::time::sleep(Duration::from_secs(3)).await;
    pool.shutdown().await;

    let runs = runs.lock().clone();
    let healthy_runs: Vec<u32> = healthy.iter().map(|id| runs.get(id).copied().unwrap_or(0)).collect();
    assert_eq!(completed, 30, "healthy tasks completed; runs per task {healthy_runs:?}");
    assert!(healthy_runs.iter().all(|n| *n == 1), "each healthy task runs exactly once: {healthy_runs:?}");

    let info = queue.status(max_backoff).await.unwrap().unwrap();
    assert_eq!((info.state, info.attempts, info.last_error.as_deref()), (TaskState::Failed, 1, Some("boom")));
    for (id, what) in [(nul_error, "bad\u{FFFD}byte"), (nul_panic, "handler panicked: bad\u{FFFD}panic")] {
        let info = queue.status(id).await.unwrap().unwrap();
        assert_eq!((info.state, info.attempts), (TaskState::Dead, 1), "{info:?}");
        assert_eq!(info.last_error.as_deref(), Some(what));
        assert_eq!(runs.get(&id), Some(&1));
    }
}

/// What the backend writes is made storable first: a retry delay of `Duration::MAX` and an
/// error with NUL bytes and over the length limit are written (clamped, NUL replaced,
/// truncated) together with the rest of the batch. Before the fix the whole call failed
/// ("timestamp out of range", "invalid byte sequence").
#[tokio::test]
async fn outcomes_are_made_storable_before_they_are_written() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let b = backend(&db).await;
    for i in 0..3 {
        b.submit(Task::new("t", &i).unwrap(), None).await.unwrap();
    }
    let leased = b.fetch("w", 3, Duration::from_secs(30)).await.unwrap();
    assert_eq!(leased.len(), 3);
    let long = format!("{}\0{}", "x".repeat(MAX_ERROR_LEN), "y".repeat(100));
    let batch = vec![
        Completion { id: leased[0].id, fence: leased[0].fence, outcome: Outcome::Completed },
        Completion {
            id: leased[1].id,
            fence: leased[1].fence,
            outcome: Outcome::Retry { delay: Duration::MAX, error: "a\0b".into() },
        },
        Completion { id: leased[2].id, fence: leased[2].fence, outcome: Outcome::Dead { error: long } },
    ];
    let rejected = b.complete(batch).await.unwrap();
    assert!(rejected.is_empty(), "{rejected:?}");
    let queue = TaskQueue::new(b.clone());
    let info = |id| {
        let queue = queue.clone();
        async move { queue.status(id).await.unwrap().unwrap() }
    };
    assert_eq!(info(leased[0].id).await.state, TaskState::Completed);
    let retried = info(leased[1].id).await;
    assert_eq!((retried.state, retried.last_error.as_deref()), (TaskState::Failed, Some("a\u{FFFD}b")));
    let run_at_years: f64 = db
        .client()
        .query_one(
            "SELECT (extract(epoch FROM run_at - now()) / (365 * 86400))::float8 FROM tq_tasks WHERE id = $1",
            &[&leased[1].id.0],
        )
        .await
        .unwrap()
        .get(0);
    assert!((99.0..=101.0).contains(&run_at_years), "the retry is parked about 100 years out: {run_at_years}");
    let dead = info(leased[2].id).await;
    let err = dead.last_error.unwrap();
    assert_eq!(dead.state, TaskState::Dead);
    assert!(err.len() <= MAX_ERROR_LEN && !err.contains('\0') && err.contains("truncated"), "{} bytes", err.len());
}

/// A row the database refuses for another reason (here a trigger) is found by splitting the
/// batch: the other outcomes are written, and that task is dead-lettered with the reason
/// instead of being left running (to be rescued and run again) or failing the whole batch.
#[tokio::test]
async fn a_row_the_database_refuses_is_isolated_and_dead_lettered_with_the_reason() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let b = backend(&db).await;
    db.client()
        .batch_execute(
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF NEW.last_error LIKE '%poison%' THEN
                 RAISE EXCEPTION 'refused by a trigger' USING ERRCODE = 'check_violation';
               END IF;
               RETURN NEW;
             END $$;
             CREATE TRIGGER refuse_poison BEFORE UPDATE ON tq_tasks FOR EACH ROW EXECUTE FUNCTION refuse_poison();",
        )
        .await
        .unwrap();
    for i in 0..10 {
        b.submit(Task::new("t", &i).unwrap(), None).await.unwrap();
    }
    let leased = b.fetch("w", 10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(leased.len(), 10);
    let poisoned = leased[6].id;
    let batch: Vec<Completion> = leased
        .iter()
        .map(|t| Completion {
            id: t.id,
            fence: t.fence,
            outcome: if t.id == poisoned {
                Outcome::Retry { delay: Duration::from_secs(1), error: "poison".into() }
            } else {
                Outcome::Completed
            },
        })
        .collect();
    let rejected = b.complete(batch).await.unwrap();
    assert!(rejected.is_empty(), "{rejected:?}");
    let queue = TaskQueue::new(b.clone());
    for t in &leased {
        let info = queue.status(t.id).await.unwrap().unwrap();
        if t.id == poisoned {
            assert_eq!(info.state, TaskState::Dead);
            let err = info.last_error.unwrap();
            assert!(err.contains("could not be written") && err.contains("refused by a trigger"), "{err}");
        } else {
            assert_eq!(info.state, TaskState::Completed, "{info:?}");
        }
    }
}
