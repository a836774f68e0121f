//! Every metric the crate registers follows `perfstack_task_queue_<what>_<unit>` with the
//! instance label `name`, and the list (names and label keys) is exactly the README's table.
//! The periodic scheduler's metric needs the `postgres` feature and a database; without them
//! its README row is left out of the comparison.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use perfstack_task_queue::{handler_fn, MemoryBackend, Task, TaskContext, TaskQueue, WorkerPool};
use perfstack_testkit::metric_names::{capture, check, Registered};

const README: &str = include_str!("../README.md");

/// One row of the README's metric table.
struct Documented {
    name: String,
    labels: Vec<String>,
    needs_postgres: bool,
}

/// The rows of the table under `## Metrics`: the metric's name and the label keys, each in
/// backticks.
fn documented() -> Vec<Documented> {
    let backticked = |cell: &str| cell.split('`').skip(1).step_by(2).map(str::to_owned).collect::<Vec<_>>();
    README
        .lines()
        .filter(|l| l.starts_with("| `perfstack_"))
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let mut labels = backticked(cells[3]);
            labels.sort();
            Documented {
                name: backticked(cells[1]).remove(0),
                labels,
                needs_postgres: row.contains("feature `postgres`"),
            }
        })
        .collect()
}

/// Runs everything that registers a metric: a pool starting (its per-kind, wait, stale and
/// rescue handles), a refused submit, `stats()` (the depth gauge) and, with PostgreSQL, a
/// periodic scheduler starting. Returns what was registered and whether the periodic part ran.
fn register_everything() -> (Vec<Registered>, bool) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    #[cfg(feature = "postgres")]
    let db = rt.block_on(perfstack_testkit::require_postgres());
    #[cfg(not(feature = "postgres"))]
    let db: Option<()> = None;
    let periodic = db.is_some();
    let registered = capture(|| {
        rt.block_on(async {
            let queue = TaskQueue::builder(MemoryBackend::default()).name("metrics").build();
            let pool = WorkerPool::builder(&queue)
                .handler("job", handler_fn(|_: TaskContext, (): ()| async { Ok(()) }))
                .start()
                .unwrap();
            assert!(queue.submit(Task::new("", &()).unwrap()).await.is_err(), "an empty kind is refused");
            queue.stats().await.unwrap();
            pool.shutdown().await;
            #[cfg(feature = "postgres")]
            if let Some(db) = &db {
                use perfstack_task_queue::postgres::{Periodic, PostgresBackend, PostgresConfig};
                let backend = PostgresBackend::connect(db.url(), PostgresConfig::in_schema(db.schema())).await.unwrap();
                let handle = Periodic::new(backend, db.url())
                    .name("metrics")
                    .every("tick", std::time::Duration::from_secs(3600), |slot| Task::new("tick", &slot))
                    .start();
                handle.stop().await;
            }
        });
    });
    #[cfg(feature = "postgres")]
    if let Some(db) = db {
        rt.block_on(db.drop_now()).unwrap();
    }
    (registered, periodic)
}

#[test]
fn every_metric_follows_the_naming_rule_and_matches_the_readme() {
    let (registered, periodic) = register_everything();
    if let Err(violations) = check("task_queue", &registered) {
        let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
        panic!("metric names break the rule:\n{}", list.join("\n"));
    }
    let documented: Vec<Documented> = documented().into_iter().filter(|d| periodic || !d.needs_postgres).collect();
    let mut want: Vec<(&str, &[String])> = documented.iter().map(|d| (d.name.as_str(), d.labels.as_slice())).collect();
    let mut got: Vec<(&str, &[String])> = registered.iter().map(|r| (r.name.as_str(), r.labels.as_slice())).collect();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want, "registered metrics (left) and the README's table (right) differ");
    assert!(documented.len() >= 7, "the README's table was not found: {}", documented.len());
}
