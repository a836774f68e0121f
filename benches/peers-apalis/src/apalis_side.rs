//! The apalis side of the peer bench: apalis 1.0 with apalis-postgres on the run's database,
//! the same pool size, worker concurrency and probes as the perfstack side in `main.rs`.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::{Config as ApalisConfig, PgPool, PostgresStorage, Pubsub};
use sqlx::postgres::PgPoolOptions;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{
    now_us, Done, Latencies, Probes, RunDb, CONCURRENCY, FETCH_BATCH, PHASE_LIMIT, PICKUP_CONCURRENCY, PICKUP_POLL,
    POOL_SIZE, PROBE_GAP,
};

pub(crate) async fn apalis_pool(db: &RunDb) -> PgPool {
    let size = u32::try_from(POOL_SIZE).unwrap();
    PgPoolOptions::new().max_connections(size).connect_with(db.sqlx.clone()).await.unwrap()
}

/// apalis-postgres woken by LISTEN/NOTIFY (its `Pubsub`, what `with_pubsub()` mounts) with
/// polling every `poll` as the fallback: the same arrangement as perfstack's pool (the
/// notification alone was seen to stall pickups until the 30 s heartbeat under a steady trickle).
fn apalis_backend<Args>(
    pool: &PgPool,
    queue: &str,
    batch: usize,
    poll: Duration,
) -> PollWith<PostgresStorage<Args>, Strategy> {
    let storage =
        PostgresStorage::<Args>::new(pool).with_config(ApalisConfig::default().queue(queue).batch_size(batch));
    let strategy = Strategy::new().stream(Pubsub::new(pool.clone(), queue.to_string())).interval(poll);
    PollWith::new(storage, strategy)
}

/// A task as apalis-postgres stores it: the JSON-encoded arguments.
fn encoded(args: &serde_json::Value) -> apalis_postgres::PgTask {
    TaskBuilder::new(serde_json::to_vec(args).unwrap()).build()
}

async fn noop_job(_: (), done: Data<Arc<Done>>) -> Result<(), BoxDynError> {
    done.hit();
    Ok(())
}

async fn probe_job(sent_us: i64, lat: Data<Arc<Latencies>>) -> Result<(), BoxDynError> {
    lat.hit(sent_us);
    Ok(())
}

/// A stop signal for `Worker::run_until`, fired by [`stop_worker`].
fn stop_signal() -> (Arc<Notify>, impl std::future::Future<Output = Result<(), std::io::Error>> + Send + 'static) {
    let stop = Arc::new(Notify::new());
    let s = Arc::clone(&stop);
    (stop, async move {
        s.notified().await;
        Ok(())
    })
}

/// Stops an apalis worker (bounded wait) and closes its pool.
async fn stop_worker<T>(stop: &Notify, running: tokio::task::JoinHandle<T>, pool: PgPool) {
    stop.notify_one();
    let _ = tokio::time::timeout(Duration::from_secs(30), running).await;
    pool.close().await;
}

/// apalis: jobs/s draining `n` pre-inserted no-op jobs, every result written.
pub(crate) async fn apalis_rate(db: &RunDb, n: usize, round: usize) -> f64 {
    let pool = apalis_pool(db).await;
    let queue = format!("noop_{round}");
    let queue = queue.as_str();
    let client = db.client().await;
    // The same start as perfstack's: no rows of earlier phases (TRUNCATE leaves no dead tuples).
    client.batch_execute("TRUNCATE apalis.jobs").await.unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(5_000) {
        let tasks = chunk.iter().map(|_| encoded(&serde_json::Value::Null)).collect();
        let mut tx = pool.begin().await.unwrap();
        apalis_postgres::queries::push_tasks(&mut *tx, queue, tasks).await.unwrap();
        tx.commit().await.unwrap();
    }
    client.batch_execute("ANALYZE apalis.jobs").await.unwrap();
    let done = Done::with_target(n as u64);
    let backend = apalis_backend::<()>(&pool, queue, FETCH_BATCH, Duration::from_secs(1));
    let worker = WorkerBuilder::new(format!("peers-apalis-rate-{round}"))
        .backend(backend)
        .data(Arc::clone(&done))
        .concurrency(CONCURRENCY)
        .parallelize(tokio::spawn)
        .build(noop_job);
    let start = Instant::now();
    let (stop, signal) = stop_signal();
    let running = tokio::spawn(worker.run_until(signal));
    assert!(done.wait().await, "apalis: {n} jobs within {PHASE_LIMIT:?}");
    // Results are written in batches behind the handlers: wait until all are in the table.
    let deadline = Instant::now() + PHASE_LIMIT;
    loop {
        let written: i64 = client
            .query_one("SELECT count(*) FROM apalis.jobs WHERE job_type = $1 AND done_at IS NOT NULL", &[&queue])
            .await
            .unwrap()
            .get(0);
        if written >= n as i64 {
            break;
        }
        assert!(Instant::now() < deadline, "apalis: only {written} of {n} results written");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    stop_worker(&stop, running, pool).await;
    n as f64 / secs
}

/// apalis: pickup latencies (ms) of `count` probes on an idle worker (LISTEN/NOTIFY).
pub(crate) async fn apalis_pickup(db: &RunDb, count: usize, round: usize) -> Probes {
    let pool = apalis_pool(db).await;
    db.client().await.batch_execute("TRUNCATE apalis.jobs").await.unwrap();
    let queue = format!("probe_{round}");
    let queue = queue.as_str();
    let lat = Arc::new(Latencies::default());
    let backend = apalis_backend::<i64>(&pool, queue, PICKUP_CONCURRENCY, PICKUP_POLL);
    let worker = WorkerBuilder::new(format!("peers-apalis-pickup-{round}"))
        .backend(backend)
        .data(Arc::clone(&lat))
        .concurrency(PICKUP_CONCURRENCY)
        .parallelize(tokio::spawn)
        .build(probe_job);
    let (stop, signal) = stop_signal();
    let running = tokio::spawn(worker.run_until(signal));
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..count {
        let mut tx = pool.begin().await.unwrap();
        apalis_postgres::queries::push_tasks(&mut *tx, queue, vec![encoded(&now_us().into())]).await.unwrap();
        tx.commit().await.unwrap();
        tokio::time::sleep(PROBE_GAP).await;
    }
    lat.wait(count).await;
    stop_worker(&stop, running, pool).await;
    lat.probes(count)
}
