//! Every metric the crate registers follows `perfstack_admission_<what>_<unit>` with the
//! instance label `name`, and the list is exactly the README's metric table (names, kinds and
//! label keys), so a metric cannot be renamed or added without its documentation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use perfstack_admission::{AdmissionController, Priority, RequestMeta};
use perfstack_testkit::metric_names::{capture, check, Kind, Registered};

const README: &str = include_str!("../README.md");

/// One row of the README's metric table.
#[derive(Debug, PartialEq)]
struct Documented {
    name: String,
    kind: Kind,
    labels: Vec<String>,
}

/// The rows of the README's metric table: `| `name` | kind | `label`, `label` | what |`.
fn documented() -> Vec<Documented> {
    let mut rows: Vec<Documented> = README
        .lines()
        .filter(|l| l.starts_with("| `perfstack_"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let name = cells[1].trim_matches('`').to_owned();
            let kind = match cells[2] {
                "counter" => Kind::Counter,
                "gauge" => Kind::Gauge,
                "histogram" => Kind::Histogram,
                other => panic!("{name}: unknown kind {other:?} in the README"),
            };
            let mut labels: Vec<String> = cells[3].split(',').map(|s| s.trim().trim_matches('`').to_owned()).collect();
            labels.sort();
            Documented { name, kind, labels }
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

fn as_documented(registered: &[Registered]) -> Vec<Documented> {
    registered.iter().map(|r| Documented { name: r.name.clone(), kind: r.kind, labels: r.labels.clone() }).collect()
}

/// Builds a controller (which registers its metrics at build) and admits one request.
fn controller_metrics() {
    let ctl = AdmissionController::builder().name("api").build().unwrap();
    drop(ctl.try_acquire(&RequestMeta::new(Priority::Normal)).unwrap());
    let refused = ctl.try_acquire(&RequestMeta::new(Priority::Normal).deadline(tokio::time::Instant::now()));
    assert!(refused.is_err());
}

#[cfg(not(feature = "redis"))]
#[test]
fn every_metric_follows_the_rule_and_is_in_the_readme() {
    let registered = capture(controller_metrics);
    check("admission", &registered).unwrap();
    let expected: Vec<Documented> = documented().into_iter().filter(|d| !d.name.contains("_redis_")).collect();
    assert_eq!(as_documented(&registered), expected);
}

/// With the `redis` feature, a Redis rate limit registers its counters when it is built (its
/// circuit breaker is built outside the capture: its metrics are resilience's).
#[cfg(feature = "redis")]
#[test]
fn every_metric_follows_the_rule_and_is_in_the_readme() {
    use perfstack_admission::redis::RedisRateLimit;
    use perfstack_resilience::CircuitBreaker;

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let Some(keys) = rt.block_on(perfstack_testkit::require_redis()) else { return };
    let breaker = CircuitBreaker::builder("metric-names").build().unwrap();
    let registered = capture(|| {
        controller_metrics();
        rt.block_on(async {
            RedisRateLimit::builder(keys.client().clone(), keys.key("metric-names"), 100.0, 10)
                .name("api-redis")
                .circuit_breaker(breaker)
                .build()
                .await
                .unwrap()
        });
    });
    check("admission", &registered).unwrap();
    assert_eq!(as_documented(&registered), documented());
}

#[test]
fn the_readme_documents_each_metric_once() {
    let rows = documented();
    assert!(rows.len() >= 5, "the README's metric table was not found: {rows:?}");
    assert!(rows.windows(2).all(|w| w[0].name != w[1].name), "{rows:?}");
}
