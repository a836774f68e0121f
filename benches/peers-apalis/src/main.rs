//! perfstack-task-queue's PostgreSQL backend next to its closest Rust peer, `apalis` 1.0 with
//! `apalis-postgres`, in the same process and the same run: jobs/s draining the same number of
//! pre-inserted no-op jobs with the same worker concurrency and pool size, and pickup latency
//! (submit → handler start) with LISTEN/NOTIFY on both sides.
//!
//! apalis-postgres keeps its tables in a fixed `apalis` schema, so the run creates a database
//! of its own (`perfstack_peers_<pid>_<time>`), uses it for both queues and drops it at the end.
//! Run by `scripts/bench.sh` (see docs/decisions/0045-task-queue-apalis-peer-workspace.md).
//!
//! Each side runs every phase twice, in the order perfstack, apalis, apalis, perfstack (A-B-B-A),
//! so that the server's background work left by one side (autovacuum, checkpoints after 100k
//! updates) falls on both sides alike; jobs/s is each side's mean of its two runs, pickup
//! percentiles are over both runs' probes together. A probe not picked up within
//! [`PROBE_WAIT`] is lost: it counts as taking [`PROBE_WAIT`] (so any lost probe puts the p99
//! at least there) and the figure's note gives the number lost.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::print_stdout)]

mod apalis_side;

use apalis_side::{apalis_pickup, apalis_pool, apalis_rate};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apalis_postgres::{PgConnectOptions, PostgresStorage};
use parking_lot::Mutex;
use perfstack_benches::{quick, record, write_section, Figure, Goal, Measure};
use perfstack_task_queue::postgres::{PostgresBackend, PostgresConfig};
use perfstack_task_queue::{handler_fn, Task, TaskContext, TaskQueue, WorkerPool};
use perfstack_testkit::policy::{on_unreachable, Service};
use tokio::sync::Notify;
use tokio::time::Instant;

const KRATE: &str = "task-queue";
/// The durable bench's settings (benches/benches/task-queue.rs), used for both queues.
const CONCURRENCY: usize = 2_000;
const FETCH_BATCH: usize = 1_000;
const POOL_SIZE: usize = 8;
/// Pickup: workers of an idle pool, and the gap between probes.
const PICKUP_CONCURRENCY: usize = 64;
const PROBE_GAP: Duration = Duration::from_millis(5);
/// Pickup: the polling fallback when a notification is missed, on both sides.
const PICKUP_POLL: Duration = Duration::from_secs(5);
/// How long the pickup phase waits for its last probes; a probe not seen by then is lost.
const PROBE_WAIT: Duration = Duration::from_secs(30);
/// No phase of the run may take longer than this.
const PHASE_LIMIT: Duration = Duration::from_secs(300);

/// Counts finished jobs and wakes the run when the target is reached.
#[derive(Debug, Default)]
struct Done {
    n: AtomicU64,
    target: AtomicU64,
    notify: Notify,
}

impl Done {
    fn with_target(target: u64) -> Arc<Self> {
        let d = Self::default();
        d.target.store(target, Ordering::Release);
        Arc::new(d)
    }

    fn hit(&self) {
        let n = self.n.fetch_add(1, Ordering::AcqRel) + 1;
        if n == self.target.load(Ordering::Acquire) {
            self.notify.notify_one();
        }
    }

    /// Waits for the target, at most [`PHASE_LIMIT`]; false on timeout.
    async fn wait(&self) -> bool {
        let target = self.target.load(Ordering::Acquire);
        tokio::time::timeout(PHASE_LIMIT, async {
            loop {
                let notified = self.notify.notified();
                if self.n.load(Ordering::Acquire) >= target {
                    return;
                }
                notified.await;
            }
        })
        .await
        .is_ok()
    }
}

/// Submit → start latencies (ms).
#[derive(Debug, Default)]
struct Latencies(Mutex<Vec<f64>>);

impl Latencies {
    fn hit(&self, sent_us: i64) {
        self.0.lock().push((now_us() - sent_us) as f64 / 1000.0);
    }

    fn len(&self) -> usize {
        self.0.lock().len()
    }

    /// Waits (at most [`PROBE_WAIT`]) for `count` probes.
    async fn wait(&self, count: usize) {
        let deadline = Instant::now() + PROBE_WAIT;
        while self.len() < count && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The latencies seen of `count` probes, each lost one counted as [`PROBE_WAIT`] (never
    /// less than it really took).
    fn probes(&self, count: usize) -> Probes {
        let mut ms = self.0.lock().clone();
        let lost = count.saturating_sub(ms.len());
        ms.extend(std::iter::repeat_n(PROBE_WAIT.as_secs_f64() * 1000.0, lost));
        Probes { ms, lost }
    }
}

/// Pickup latencies (ms) of one side, lost probes included as [`PROBE_WAIT`].
#[derive(Debug, Default)]
struct Probes {
    ms: Vec<f64>,
    lost: usize,
}

impl Probes {
    fn add(&mut self, other: Self) {
        self.ms.extend(other.ms);
        self.lost += other.lost;
    }

    /// (p50, p99); with any probe lost the p99 is at least [`PROBE_WAIT`].
    fn p50_p99(&self) -> (f64, f64) {
        let mut v = self.ms.clone();
        v.sort_by(f64::total_cmp);
        let (p50, mut p99) = (percentile(&v, 0.5), percentile(&v, 0.99));
        if self.lost > 0 {
            p99 = p99.max(PROBE_WAIT.as_secs_f64() * 1000.0);
        }
        (p50, p99)
    }
}

fn now_us() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros()).unwrap()
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// A database of this run's own, dropped by [`RunDb::drop_now`].
struct RunDb {
    admin: tokio_postgres::Client,
    name: String,
    pg: tokio_postgres::Config,
    sqlx: PgConnectOptions,
    url: String,
}

impl RunDb {
    async fn create(base_url: &str) -> Result<Self, String> {
        let (admin, conn) =
            tokio_postgres::connect(base_url, tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() % 1_000_000_000_000;
        let name = format!("perfstack_peers_{}_{nanos}", std::process::id());
        admin.batch_execute(&format!("CREATE DATABASE {name}")).await.map_err(|e| e.to_string())?;
        let mut pg: tokio_postgres::Config = base_url.parse().map_err(|e: tokio_postgres::Error| e.to_string())?;
        pg.dbname(&name);
        let sqlx: PgConnectOptions = base_url.parse().map_err(|e: sqlx::Error| e.to_string())?;
        let sqlx = sqlx.database(&name);
        let url = format!(
            "{}/{name}",
            base_url.split('?').next().unwrap_or(base_url).rsplit_once('/').map_or(base_url, |(h, _)| h)
        );
        Ok(Self { admin, name, pg, sqlx, url })
    }

    async fn client(&self) -> tokio_postgres::Client {
        let (client, conn) = self.pg.connect(tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client
    }

    async fn drop_now(&self) {
        if let Err(e) = self.admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).await {
            eprintln!("peers-apalis: could not drop database {}: {e}", self.name);
        }
    }
}

/// perfstack: jobs/s draining `n` pre-inserted no-op jobs, every completion written.
async fn ours_rate(db: &RunDb, n: usize, round: usize) -> f64 {
    let schema = format!("perfstack_rate_{round}");
    let cfg = PostgresConfig { pool_size: POOL_SIZE, ..PostgresConfig::in_schema(schema.as_str()) };
    let backend = PostgresBackend::from_config(db.pg.clone(), cfg).await.unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(5_000) {
        let tasks: Vec<Task> = chunk.iter().map(|_| Task::new("noop", &()).unwrap()).collect();
        backend.submit_many(tasks).await.unwrap();
    }
    let client = db.client().await;
    client.batch_execute(&format!("ANALYZE {schema}.tq_tasks")).await.unwrap();
    let queue = TaskQueue::new(backend.clone());
    let done = Done::with_target(n as u64);
    let d = Arc::clone(&done);
    let start = Instant::now();
    let pool = WorkerPool::builder(&queue)
        .concurrency(CONCURRENCY)
        .fetch_batch(FETCH_BATCH)
        .handler(
            "noop",
            handler_fn(move |_: TaskContext, (): ()| {
                d.hit();
                async { Ok(()) }
            }),
        )
        .start()
        .unwrap();
    assert!(done.wait().await, "perfstack: {n} jobs within {PHASE_LIMIT:?}");
    pool.shutdown().await; // flushes the last outcome batch
    let secs = start.elapsed().as_secs_f64();
    let completed: i64 =
        client.query_one(&format!("SELECT count(*) FROM {schema}.tq_tasks WHERE state = 3"), &[]).await.unwrap().get(0);
    assert_eq!(completed, n as i64, "perfstack: every job's completion is written");
    drop(queue);
    drop(backend);
    // The next phases start without this round's rows (cheap: no dead tuples left behind).
    client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
    n as f64 / secs
}

/// perfstack: pickup latencies (ms) of `count` probes on an idle pool.
async fn ours_pickup(db: &RunDb, count: usize, round: usize) -> Probes {
    let schema = format!("perfstack_pickup_{round}");
    let cfg = PostgresConfig { pool_size: POOL_SIZE, ..PostgresConfig::in_schema(schema.as_str()) };
    let backend = PostgresBackend::from_config(db.pg.clone(), cfg).await.unwrap();
    let queue = TaskQueue::new(backend);
    let lat = Arc::new(Latencies::default());
    let l = Arc::clone(&lat);
    let pool = WorkerPool::builder(&queue)
        .concurrency(PICKUP_CONCURRENCY)
        .fetch_batch(PICKUP_CONCURRENCY)
        .poll_interval(PICKUP_POLL)
        .handler(
            "probe",
            handler_fn(move |_: TaskContext, sent_us: i64| {
                l.hit(sent_us);
                async { Ok(()) }
            }),
        )
        .start()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..count {
        queue.submit(Task::new("probe", &now_us()).unwrap()).await.unwrap();
        tokio::time::sleep(PROBE_GAP).await;
    }
    lat.wait(count).await;
    pool.shutdown().await;
    lat.probes(count)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(run());
}

/// What one run measured of both sides.
struct Measured {
    ours_lat: Probes,
    theirs_lat: Probes,
    /// jobs/s of each of the two runs per side.
    ours: [f64; 2],
    theirs: [f64; 2],
}

/// Pickup latencies then jobs/s, each phase in the order perfstack, apalis, apalis, perfstack.
async fn measure(db: &RunDb, jobs: usize, probes: usize) -> Measured {
    {
        let pool = apalis_pool(db).await;
        PostgresStorage::<()>::setup(&pool).await.unwrap();
        pool.close().await;
    }
    // Same database, A-B-B-A: what one side leaves behind for the server (autovacuum,
    // checkpoints) falls once on each side. Pickup first, on empty tables.
    let mut ours_lat = ours_pickup(db, probes, 1).await;
    let mut theirs_lat = apalis_pickup(db, probes, 1).await;
    theirs_lat.add(apalis_pickup(db, probes, 2).await);
    ours_lat.add(ours_pickup(db, probes, 2).await);
    let ours1 = ours_rate(db, jobs, 1).await;
    let theirs1 = apalis_rate(db, jobs, 1).await;
    let theirs2 = apalis_rate(db, jobs, 2).await;
    let ours2 = ours_rate(db, jobs, 2).await;
    Measured { ours_lat, theirs_lat, ours: [ours1, ours2], theirs: [theirs1, theirs2] }
}

async fn run() {
    // p99 of 2 × 300 probes is the 6th-highest sample: 2 × 100 (the 2nd-highest) swung past
    // either side from run to run.
    let (jobs, probes) = if quick() { (20_000, 300) } else { (100_000, 500) };
    let base = Service::Postgres.url();
    let db = match RunDb::create(&base).await {
        Ok(db) => db,
        Err(e) => {
            let _: Option<()> = on_unreachable(Service::Postgres, &base, &e);
            return;
        }
    };
    eprintln!("peers-apalis: database {} ({}), {jobs} jobs, {probes} probes", db.name, db.url);
    // The phases run in a task of their own so that the database is dropped even when one of
    // them fails (then the failure is passed on).
    let db = Arc::new(db);
    let d = Arc::clone(&db);
    let measured = tokio::spawn(async move { measure(&d, jobs, probes).await }).await;
    db.drop_now().await;
    let m = match measured {
        Ok(m) => m,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("peers-apalis: {e}"),
    };
    let (ours, theirs) = ((m.ours[0] + m.ours[1]) / 2.0, (m.theirs[0] + m.theirs[1]) / 2.0);
    let ((o50, o99), (a50, a99)) = (m.ours_lat.p50_p99(), m.theirs_lat.p50_p99());
    let (o_lost, a_lost) = (m.ours_lat.lost, m.theirs_lat.lost);
    eprintln!(
        "peers-apalis: perfstack {ours:.0} jobs/s ({:.0}, {:.0}), apalis {theirs:.0} jobs/s ({:.0}, {:.0}) ({:.2}x); \
         pickup p50 {o50:.2} / {a50:.2} ms, p99 {o99:.2} / {a99:.2} ms, lost probes {o_lost} / {a_lost}",
        m.ours[0],
        m.ours[1],
        m.theirs[0],
        m.theirs[1],
        ours / theirs
    );
    let setup = format!(
        "{jobs} pre-inserted no-op jobs, {CONCURRENCY} workers, fetch batch {FETCH_BATCH}, {POOL_SIZE} connections on \
         both sides; time until every completion is written; mean of two runs per side in the order perfstack, \
         apalis, apalis, perfstack (perfstack {:.0} and {:.0}, apalis {:.0} and {:.0})",
        m.ours[0], m.ours[1], m.theirs[0], m.theirs[1]
    );
    record(&Figure {
        krate: KRATE.into(),
        figure: "durable jobs/s vs apalis 1.0 + apalis-postgres (same run)".into(),
        unit: "jobs/s".into(),
        value: Measure::Value(ours),
        baseline: Some(Measure::Value(theirs)),
        goal: Goal::RatioAtLeast(2.0),
        note: setup.clone(),
    });
    let pickup_note = format!(
        "2 × {probes} probes per side (runs in the order perfstack, apalis, apalis, perfstack), one every \
         {PROBE_GAP:?}, idle {PICKUP_CONCURRENCY}-slot pools, LISTEN/NOTIFY with a {PICKUP_POLL:?} polling fallback \
         on both; lost probes (not picked up within {PROBE_WAIT:?}, counted as {PROBE_WAIT:?}, p99 then at least \
         that): perfstack {o_lost}, apalis {a_lost}"
    );
    record(&Figure {
        krate: KRATE.into(),
        figure: "pickup latency p99 vs apalis (same run)".into(),
        unit: "ms".into(),
        value: Measure::Value(o99),
        baseline: Some(Measure::Value(a99)),
        goal: Goal::RatioAtMost(1.0),
        note: pickup_note.clone(),
    });
    record(&Figure {
        krate: KRATE.into(),
        figure: "pickup latency p50 vs apalis (same run)".into(),
        unit: "ms".into(),
        value: Measure::Value(o50),
        baseline: Some(Measure::Value(a50)),
        goal: Goal::Info,
        note: pickup_note,
    });
    let table = format!(
        "### Against apalis 1.0 + apalis-postgres (same run, same server)\n\n\
         `bash scripts/bench.sh --quick peers-apalis` (its own cargo workspace, `benches/peers-apalis`). {setup}.\n\n\
         | | jobs/s (mean of 2) | pickup p50 ms | pickup p99 ms | probes | lost probes |\n|---|---|---|---|---|---|\n\
         | perfstack-task-queue | {ours:.0} | {o50:.2} | {o99:.2} | {} | {o_lost} |\n\
         | apalis-postgres 1.0 | {theirs:.0} | {a50:.2} | {a99:.2} | {} | {a_lost} |\n\n\
         Each side runs each phase twice, in the order perfstack, apalis, apalis, perfstack; a lost probe counts \
         as {PROBE_WAIT:?}.\n",
        m.ours_lat.ms.len(),
        m.theirs_lat.ms.len(),
    );
    let _ = write_section(KRATE, "peers-apalis", &table);
}
