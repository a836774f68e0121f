//! Worker pools on PostgreSQL: starvation under a flood, periodic tasks with one leader.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use perfstack_task_queue::postgres::{Cron, Periodic, PostgresBackend, PostgresConfig};
use perfstack_task_queue::{handler_fn, Aging, Priority, Task, TaskContext, TaskQueue, WorkerPool};
use tokio::time::Instant;

/// 500 `Critical` tasks wait and more keep arriving faster than one worker can run them;
/// `Low` tasks submitted after the flood started still run while it is going on (aging of
/// 20 ms per level), where strict priority would hold them until the flood is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_tasks_progress_under_a_critical_flood() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let cfg =
        PostgresConfig { aging: Aging::per_level(Duration::from_millis(20)), ..PostgresConfig::in_schema(db.schema()) };
    let backend = PostgresBackend::connect(db.url(), cfg).await.unwrap();
    let queue = TaskQueue::new(backend.clone());
    let flood: Vec<Task> = (0..500).map(|_| Task::new("w", &()).unwrap().priority(Priority::Critical)).collect();
    backend.submit_many(flood).await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = Arc::clone(&order);
    let pool = WorkerPool::builder(&queue)
        .concurrency(1)
        .fetch_batch(1)
        .handler(
            "w",
            handler_fn(move |ctx: TaskContext, (): ()| {
                let o = Arc::clone(&o);
                async move {
                    o.lock().push(ctx.priority());
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    Ok(())
                }
            }),
        )
        .start()
        .unwrap();
    // Keep the flood going: more Critical tasks every few milliseconds.
    let b = backend.clone();
    let producer = tokio::spawn(async move {
        for _ in 0..3000 {
            let more: Vec<Task> = (0..20).map(|_| Task::new("w", &()).unwrap().priority(Priority::Critical)).collect();
            b.submit_many(more).await.unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let lows: Vec<Task> = (0..5).map(|_| Task::new("w", &()).unwrap().priority(Priority::Low)).collect();
    backend.submit_many(lows).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (lows_done, total) = {
            let o = order.lock();
            (o.iter().filter(|p| **p == Priority::Low).count(), o.len())
        };
        if lows_done == 5 {
            let criticals_left = backend_depth_critical(&queue).await;
            assert!(
                criticals_left > 100,
                "Low ran while {criticals_left} Critical tasks still waited (after {total} tasks)"
            );
            break;
        }
        assert!(Instant::now() < deadline, "Low tasks starved: {lows_done}/5 ran among {total} tasks");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    producer.abort();
    pool.shutdown().await;
}

async fn backend_depth_critical(queue: &TaskQueue) -> u64 {
    queue.stats().await.unwrap().depth.critical
}

/// Two schedulers on one schema: one leads; each time slot is submitted exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_tasks_have_one_leader_and_one_submit_per_slot() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let backend = PostgresBackend::connect(db.url(), PostgresConfig::in_schema(db.schema())).await.unwrap();
    let start = |b: &PostgresBackend| {
        Periodic::new(b.clone(), db.url())
            .tick(Duration::from_millis(20))
            .every("tick", Duration::from_millis(100), |slot| Task::new("tick", &slot))
            .cron("minutely", Cron::parse("* * * * *").unwrap(), |minute| Task::new("minutely", &minute))
            .start()
    };
    let a = start(&backend);
    let b = start(&backend);
    let deadline = Instant::now() + Duration::from_secs(20);
    let c = db.client();
    loop {
        let n: i64 = c.query_one("SELECT count(*) FROM tq_tasks WHERE kind = 'tick'", &[]).await.unwrap().get(0);
        if n >= 8 {
            break;
        }
        assert!(Instant::now() < deadline, "only {n} periodic submits");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(a.is_leader() ^ b.is_leader(), "exactly one leader");
    let row = c
        .query_one("SELECT count(*), count(DISTINCT payload::text) FROM tq_tasks WHERE kind = 'tick'", &[])
        .await
        .unwrap();
    let (total, distinct): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(total, distinct, "no slot submitted twice");
    // The cron schedule fired in the current minute, once (twice if the test crossed a minute).
    let row = c
        .query_one("SELECT count(*), count(DISTINCT payload::text) FROM tq_tasks WHERE kind = 'minutely'", &[])
        .await
        .unwrap();
    let (total, distinct): (i64, i64) = (row.get(0), row.get(1));
    assert!((1..=2).contains(&total) && total == distinct, "{total} cron submits, {distinct} distinct minutes");
    // The leader stops; the other takes over.
    let (leader, follower) = if a.is_leader() { (a, b) } else { (b, a) };
    leader.stop().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !follower.is_leader() {
        assert!(Instant::now() < deadline, "the follower never took over");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    follower.stop().await;
}

/// A schedule whose slot the database refuses (a NUL byte in its name) is logged and skipped;
/// the schedules after it still submit. Before the fix its error ended every round before
/// them, and the leader reconnected again and again without ever submitting anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_the_database_refuses_does_not_stop_the_others() {
    let Some(db) = perfstack_testkit::require_postgres().await else { return };
    let backend = PostgresBackend::connect(db.url(), PostgresConfig::in_schema(db.schema())).await.unwrap();
    let handle = Periodic::new(backend.clone(), db.url())
        .tick(Duration::from_millis(20))
        .every("bad\0name", Duration::from_millis(100), |slot| Task::new("bad", &slot))
        .every("good", Duration::from_millis(100), |slot| Task::new("good", &slot))
        .start();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n: i64 =
            db.client().query_one("SELECT count(*) FROM tq_tasks WHERE kind = 'good'", &[]).await.unwrap().get(0);
        if n >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "the good schedule submitted {n} tasks");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(handle.is_leader());
    handle.stop().await;
}
