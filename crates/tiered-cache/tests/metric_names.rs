#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every metric the crate registers is named `perfstack_tiered_cache_<what>_<unit>`, carries the
//! instance label `name`, and is in the README's metric table with its kind (and nothing else
//! is).

use perfstack_testkit::metric_names::{capture, check, Kind, Registered};
use perfstack_tiered_cache::{loader_fn, BoxError, MemoryStore, TieredCache};

/// What one cache registers: every counter and gauge when it is built (with an L2, so the L2
/// series too), the load histogram on its first load. The L2 circuit breaker is a
/// `perfstack_resilience::CircuitBreaker` whose own metrics perfstack-resilience checks: left out.
fn registered() -> Vec<Registered> {
    let all = capture(|| {
        // Current-thread: the detached load runs on this thread, where the recorder is.
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let cache = TieredCache::<String>::builder("orders")
                .tier(MemoryStore::new().tier())
                .loader(loader_fn(|key: String| async move { Ok::<_, BoxError>(Some(key)) }))
                .build()
                .await
                .unwrap();
            assert_eq!(cache.get_or_load("k").await.unwrap(), Some("k".to_owned()));
        });
    });
    all.into_iter().filter(|r| !r.name.starts_with("perfstack_resilience_")).collect()
}

/// `(name, kind)` of every row of the README's metric table.
fn documented() -> Vec<(String, Kind)> {
    let readme = include_str!("../README.md");
    let mut rows: Vec<(String, Kind)> = readme
        .lines()
        .filter_map(|line| {
            let mut cells = line.strip_prefix("| `perfstack_")?.split('|');
            let name = format!("perfstack_{}", cells.next()?.trim().trim_end_matches('`'));
            let kind = match cells.next()?.trim() {
                "counter" => Kind::Counter,
                "gauge" => Kind::Gauge,
                "histogram" => Kind::Histogram,
                other => panic!("{name}: unknown kind {other:?} in the README"),
            };
            Some((name, kind))
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn every_metric_follows_the_workspace_rule() {
    let registered = registered();
    assert!(registered.len() >= 14, "too few metrics registered: {registered:?}");
    if let Err(violations) = check("tiered_cache", &registered) {
        panic!("{}", violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
    }
}

#[test]
fn the_readme_lists_exactly_the_registered_metrics() {
    let mut registered: Vec<(String, Kind)> = registered().into_iter().map(|r| (r.name, r.kind)).collect();
    registered.sort();
    assert_eq!(registered, documented());
}
