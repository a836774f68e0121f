//! perfstack-task-queue: two worker processes share one durable queue on PostgreSQL.
//!
//! The parent submits tasks, starts two worker processes (this same binary with `--worker`),
//! waits until every task is completed and shows which worker ran how many. Each worker
//! records its effect and completes the task in one transaction, checked against the lease's
//! fencing token. Without PostgreSQL it says so and runs two pools on one in-memory queue.
//!
//! ```text
//! cargo run -p perfstack-examples --bin task-queue            # 2,000 tasks
//! cargo run -p perfstack-examples --bin task-queue -- --quick # what CI runs
//! ```
#![allow(clippy::print_stdout)]

use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use perfstack_examples::services::Services;
use perfstack_task_queue::postgres::{PostgresBackend, PostgresConfig};
use perfstack_task_queue::{handler_fn, Task, TaskContext, TaskError, TaskQueue, WorkerPool};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let args: Vec<String> = std::env::args().collect();
    let res = if let Some(i) = args.iter().position(|a| a == "--worker") {
        match (args.get(i + 1), args.get(i + 2), args.get(i + 3)) {
            (Some(name), Some(schema), Some(url)) => worker(name, schema, url).await,
            _ => Err("usage: --worker <name> <schema> <url>".into()),
        }
    } else {
        parent(perfstack_examples::quick_mode()).await
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn parent(quick: bool) -> Result<(), BoxError> {
    let n: i64 = if quick { 300 } else { 2_000 };
    println!("perfstack-task-queue: two worker processes, one queue{}", if quick { " (quick mode)" } else { "" });
    let services = Services::detect().await;
    let Some(url) = services.postgres else {
        println!("  PostgreSQL not reachable: running two pools on one in-memory queue instead");
        return in_memory(n).await;
    };
    let schema = format!("perfstack_example_tq_{}", std::process::id());
    let backend = PostgresBackend::connect(&url, PostgresConfig::in_schema(&schema)).await?;
    let result = run_two_processes(&backend, &schema, &url, n).await;
    let client = backend.pool().get().await?;
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await?;
    result
}

async fn run_two_processes(backend: &PostgresBackend, schema: &str, url: &str, n: i64) -> Result<(), BoxError> {
    let client = backend.pool().get().await?;
    client
        .batch_execute(&format!(
            "CREATE TABLE \"{schema}\".done_by (task_id bigint PRIMARY KEY, worker text NOT NULL, fence bigint NOT NULL)"
        ))
        .await?;
    let tasks: Vec<Task> = (0..n).map(|i| Task::new("work", &i)).collect::<Result<_, _>>()?;
    backend.submit_many(tasks).await?;
    println!("  submitted {n} tasks to schema {schema}");
    let exe = std::env::current_exe()?;
    let spawn = |name: &str| -> std::io::Result<Child> {
        Command::new(&exe).args(["--worker", name, schema, url]).stdout(Stdio::null()).stderr(Stdio::inherit()).spawn()
    };
    let mut children = vec![spawn("worker-a")?, spawn("worker-b")?];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let outcome = loop {
        let left: i64 = client
            .query_one(&format!("SELECT count(*) FROM \"{schema}\".tq_tasks WHERE state <> 3"), &[])
            .await?
            .get(0);
        if left == 0 {
            break Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            break Err(format!("{left} tasks still unfinished after 60 s"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
    outcome?;
    for row in client
        .query(&format!("SELECT worker, count(*) FROM \"{schema}\".done_by GROUP BY worker ORDER BY worker"), &[])
        .await?
    {
        println!("  {}: {} tasks", row.get::<_, String>(0), row.get::<_, i64>(1));
    }
    let effects: i64 = client.query_one(&format!("SELECT count(*) FROM \"{schema}\".done_by"), &[]).await?.get(0);
    println!("  {effects} effects for {n} tasks: each committed exactly once, together with its completion");
    if effects != n {
        return Err(format!("expected {n} effects, found {effects}").into());
    }
    Ok(())
}

async fn worker(name: &str, schema: &str, url: &str) -> Result<(), BoxError> {
    let backend = PostgresBackend::connect(url, PostgresConfig::in_schema(schema)).await?;
    let queue = TaskQueue::new(backend.clone());
    let (b, w, s) = (backend.clone(), name.to_string(), schema.to_string());
    let pool = WorkerPool::builder(&queue)
        .worker_id(name)
        .concurrency(16)
        .fetch_batch(32)
        .handler(
            "work",
            handler_fn(move |ctx: TaskContext, _i: i64| {
                let (b, w, s) = (b.clone(), w.clone(), s.clone());
                async move {
                    tokio::time::sleep(Duration::from_millis(2)).await; // the work
                    let mut client = b.pool().get().await.map_err(TaskError::retry)?;
                    let tx = client.transaction().await.map_err(TaskError::retry)?;
                    tx.execute(
                        &format!("INSERT INTO \"{s}\".done_by (task_id, worker, fence) VALUES ($1, $2, $3)"),
                        &[&ctx.id().0, &w, &ctx.fence()],
                    )
                    .await
                    .map_err(TaskError::retry)?;
                    b.complete_in(&tx, &ctx).await.map_err(TaskError::retry)?;
                    tx.commit().await.map_err(TaskError::retry)
                }
            }),
        )
        .start()?;
    // Runs until the parent stops it.
    tokio::time::sleep(Duration::from_secs(120)).await;
    pool.shutdown().await;
    Ok(())
}

async fn in_memory(n: i64) -> Result<(), BoxError> {
    let queue = TaskQueue::memory();
    let counts = [Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))];
    let pools: Vec<WorkerPool> = counts
        .iter()
        .map(|c| {
            let c = Arc::clone(c);
            WorkerPool::builder(&queue)
                .concurrency(4)
                .handler(
                    "work",
                    handler_fn(move |_: TaskContext, _i: i64| {
                        c.fetch_add(1, Ordering::Relaxed);
                        async {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                            Ok(())
                        }
                    }),
                )
                .start()
        })
        .collect::<Result<_, _>>()?;
    for i in 0..n {
        queue.submit(Task::new("work", &i)?).await?;
    }
    let total = || counts.iter().map(|c| c.load(Ordering::Relaxed)).sum::<u64>();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while total() < u64::try_from(n)? {
        if tokio::time::Instant::now() > deadline {
            return Err("in-memory tasks did not finish".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for p in &pools {
        p.shutdown().await;
    }
    println!(
        "  pool a: {} tasks, pool b: {} tasks",
        counts[0].load(Ordering::Relaxed),
        counts[1].load(Ordering::Relaxed)
    );
    Ok(())
}
