//! A pool's settings are checked when it starts, whichever way they were set (setters,
//! `config()`, serde), and every setter gives a refusal or a pool that runs a task.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use perfstack_task_queue::{
    handler_fn, ConfigError, MemoryBackend, PoolConfig, Task, TaskContext, TaskQueue, TaskState, WorkerPool,
    WorkerPoolBuilder,
};
use tokio::time::Instant;

fn ok_handler() -> impl perfstack_task_queue::TaskHandler {
    handler_fn(|_: TaskContext, (): ()| async { Ok(()) })
}

fn refused(res: Result<WorkerPool, ConfigError>, setting: &str) {
    match res {
        Err(e) => assert!(e.to_string().contains(setting), "{setting}: {e}"),
        Ok(_) => panic!("{setting}: the pool started"),
    }
}

/// A lease of 0, a heartbeat at or above the lease (before the fix: the task was rescued and
/// run again while it still ran, three runs at once for a 1 s lease and a 3 s heartbeat), and a
/// concurrency of 0 are build errors naming the setting, through `config()`, serde and the
/// setters alike.
#[tokio::test]
async fn settings_that_cannot_work_are_refused_at_start_on_every_path() {
    let queue = TaskQueue::new(MemoryBackend::default());
    let start = |cfg: PoolConfig| WorkerPool::builder(&queue).config(cfg).handler("ok", ok_handler()).start();
    let d = PoolConfig::default();
    refused(start(PoolConfig { lease: Duration::ZERO, heartbeat: Duration::ZERO, ..d.clone() }), "lease");
    refused(start(PoolConfig { heartbeat: d.lease, ..d.clone() }), "heartbeat");
    refused(
        start(PoolConfig { lease: Duration::from_secs(1), heartbeat: Duration::from_secs(3), ..d.clone() }),
        "heartbeat",
    );
    refused(start(PoolConfig { concurrency: 0, ..d.clone() }), "concurrency");

    let from_json = |json: &str| start(serde_json::from_str::<PoolConfig>(json).unwrap());
    refused(from_json(r#"{"concurrency": 0}"#), "concurrency");
    refused(from_json(r#"{"lease": {"secs": 0, "nanos": 0}}"#), "lease");
    refused(from_json(r#"{"heartbeat": {"secs": 30, "nanos": 0}}"#), "heartbeat");

    let setters = || WorkerPool::builder(&queue).handler("ok", ok_handler());
    refused(setters().concurrency(0).start(), "concurrency");
    refused(setters().lease(Duration::ZERO).start(), "lease");
    refused(setters().lease(Duration::from_millis(2)).start(), "heartbeat");
    refused(setters().fetch_batch(0).start(), "fetch_batch");
    refused(setters().worker_id("").start(), "worker_id");
    refused(WorkerPool::builder(&queue).handler("", ok_handler()).start(), "kind");
    refused(WorkerPool::builder(&queue).handler("a\0b", ok_handler()).start(), "kind");
}

/// Starts `b` with an `ok` handler; when it starts, one task must complete and the pool shut
/// down cleanly, all in bounded real time.
async fn refused_or_runs_one_task(queue: &TaskQueue, b: WorkerPoolBuilder, what: &str) {
    let Ok(pool) = b.handler("ok", ok_handler()).start() else { return };
    let id = queue.submit(Task::new("ok", &()).unwrap()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while queue.status(id).await.unwrap().map(|i| i.state) != Some(TaskState::Completed) {
        assert!(Instant::now() < deadline, "{what}: the pool started but did not run a task");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let report = tokio::time::timeout(Duration::from_secs(5), pool.shutdown()).await;
    assert!(report.is_ok_and(|r| r.finished_in_grace), "{what}: shutdown");
}

/// The values users pass by mistake, through every setter: a refusal or a working pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_setter_gives_a_refusal_or_a_pool_that_runs() {
    let queue = TaskQueue::new(MemoryBackend::default());
    let b = || WorkerPool::builder(&queue);
    let sizes = [0, 1, 2, u32::MAX as usize, usize::MAX];
    let durations = [
        Duration::ZERO,
        Duration::from_nanos(1),
        Duration::from_millis(1),
        Duration::from_secs(1),
        Duration::from_secs(u64::from(u32::MAX)),
        Duration::MAX,
    ];
    for n in sizes {
        refused_or_runs_one_task(&queue, b().concurrency(n), &format!("concurrency({n})")).await;
        refused_or_runs_one_task(&queue, b().fetch_batch(n), &format!("fetch_batch({n})")).await;
    }
    for d in durations {
        refused_or_runs_one_task(&queue, b().lease(d), &format!("lease({d:?})")).await;
        refused_or_runs_one_task(&queue, b().poll_interval(d), &format!("poll_interval({d:?})")).await;
        refused_or_runs_one_task(&queue, b().rescue_interval(d), &format!("rescue_interval({d:?})")).await;
        refused_or_runs_one_task(&queue, b().grace(d), &format!("grace({d:?})")).await;
    }
    for id in [String::new(), "\0".into(), "x".repeat(1 << 20), "a b'\"\n\t;--".into(), "é".into()] {
        refused_or_runs_one_task(&queue, b().worker_id(id.clone()), &format!("worker_id of {} bytes", id.len())).await;
    }
}
