//! Baselines later crates compare against, measured on this machine: a raw `fred` GET on one
//! connection and 16 concurrent on a pool of 4, and a raw `tokio-postgres` prepared
//! primary-key select.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use criterion::{criterion_group, Criterion, Throughput};
use fred::prelude::{Builder, ClientLike, Config, KeysInterface};
use perfstack_benches::{record, Figure, Goal, Measure};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn redis_get(c: &mut Criterion) {
    let rt = runtime();
    let Some(keys) = rt.block_on(perfstack_testkit::require_redis()) else { return };
    let key = keys.key("baseline");
    let url = keys.url().to_owned();
    let (single, pool) = rt.block_on(async {
        let _: () = keys.client().set(&key, "x".repeat(100), None, None, false).await.unwrap();
        let config = Config::from_url(&url).unwrap();
        let single = Builder::from_config(config.clone()).build().unwrap();
        single.init().await.unwrap();
        let pool = Builder::from_config(config).build_pool(4).unwrap();
        pool.init().await.unwrap();
        (single, pool)
    });

    let mut g = c.benchmark_group("redis");
    g.throughput(Throughput::Elements(1));
    g.bench_function("fred_get", |b| {
        b.to_async(&rt).iter(|| async { single.get::<Option<String>, _>(&key).await.unwrap() });
    });
    g.throughput(Throughput::Elements(16));
    g.bench_function("fred_get_16_pool4", |b| {
        b.to_async(&rt).iter(|| async {
            let gets = (0..16).map(|_| pool.get::<Option<String>, _>(&key));
            for r in futures::future::join_all(gets).await {
                r.unwrap();
            }
        });
    });
    g.finish();
    rt.block_on(async {
        let _ = single.quit().await;
        let _ = pool.quit().await;
    });
    drop(keys);

    record(&Figure {
        krate: "baselines".into(),
        figure: "raw Redis GET, `fred`, one connection (100-byte value)".into(),
        unit: "ops/s".into(),
        value: Measure::CriterionRate { id: "redis/fred_get".into(), elements: 1 },
        baseline: None,
        goal: Goal::Info,
        note: "sequential round trips on loopback".into(),
    });
    record(&Figure {
        krate: "baselines".into(),
        figure: "raw Redis GET, `fred` pool of 4, 16 in flight".into(),
        unit: "ops/s".into(),
        value: Measure::CriterionRate { id: "redis/fred_get_16_pool4".into(), elements: 16 },
        baseline: None,
        goal: Goal::Info,
        note: "fred pipelines concurrent commands per connection".into(),
    });
}

fn postgres_select(c: &mut Criterion) {
    let rt = runtime();
    let Some(db) = rt.block_on(perfstack_testkit::require_postgres()) else { return };
    let (client, stmt) = rt.block_on(async {
        db.client()
            .batch_execute(
                "create table kv (k int primary key, v int not null);
                 insert into kv select g, g from generate_series(1, 100000) g; analyze kv",
            )
            .await
            .unwrap();
        let client = db.connect().await.unwrap();
        let stmt = client.prepare("select v from kv where k = $1").await.unwrap();
        (client, stmt)
    });
    let mut g = c.benchmark_group("postgres");
    g.throughput(Throughput::Elements(1));
    let mut k = 0i32;
    g.bench_function("prepared_select", |b| {
        b.to_async(&rt).iter(|| {
            k = k % 100_000 + 1;
            let (client, stmt) = (&client, &stmt);
            async move { client.query_one(stmt, &[&k]).await.unwrap().get::<_, i32>(0) }
        });
    });
    g.finish();
    drop(client);
    let pgbench_tps = pgbench_select(db.url());
    drop(db);

    record(&Figure {
        krate: "baselines".into(),
        figure: "raw PostgreSQL prepared primary-key select, `tokio-postgres`, one connection".into(),
        unit: "queries/s".into(),
        value: Measure::CriterionRate { id: "postgres/prepared_select".into(), elements: 1 },
        baseline: None,
        goal: Goal::Info,
        note: "100k-row table, sequential queries".into(),
    });
    if let Some(tps) = pgbench_tps {
        record(&Figure {
            krate: "baselines".into(),
            figure: "`pgbench -S -M prepared`, 1 client".into(),
            unit: "queries/s".into(),
            value: Measure::Value(tps),
            baseline: None,
            goal: Goal::Info,
            note: "scale 1, in the same run; the pg-optimizer pool is compared with this".into(),
        });
    }
}

/// Runs `pgbench -S -M prepared` with one client against the test's schema and returns its TPS,
/// or `None` (with a message) when pgbench is not installed or fails.
fn pgbench_select(url: &str) -> Option<f64> {
    use std::process::Command;
    let seconds = if perfstack_benches::quick() { "3" } else { "10" };
    let init = Command::new("pgbench").args(["-i", "-q", "-s", "1", url]).output();
    match init {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            eprintln!("baselines: pgbench -i failed: {}", String::from_utf8_lossy(&out.stderr));
            return None;
        }
        Err(e) => {
            eprintln!("baselines: pgbench not run ({e})");
            return None;
        }
    }
    let out = Command::new("pgbench")
        .args(["-S", "-M", "prepared", "-c", "1", "-j", "1", "-T", seconds, url])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "tps = 28512.345 (without initial connection time)"
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps = ") && !l.contains("including"))
        .and_then(|l| l.trim_start_matches("tps = ").split_whitespace().next())
        .and_then(|v| v.parse().ok());
    if tps.is_none() {
        eprintln!("baselines: could not read pgbench output: {text}");
    }
    tps
}

criterion_group!(benches, redis_get, postgres_select);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
