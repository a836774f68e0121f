//! Test helpers for perfstack: real services, isolated per test, and bounded load.
//!
//! - **Service policy** ([`policy`]): `DATABASE_URL` (default
//!   `postgres://postgres@127.0.0.1:5432/test`) and `REDIS_URL` (default
//!   `redis://127.0.0.1:6379`). When a service is unreachable, a test fails if
//!   `PERFSTACK_REQUIRE_SERVICES=1` (as `scripts/test.sh` and CI set it) and is otherwise skipped
//!   with a loud message naming the service.
//! - **Isolation**: [`require_postgres`] gives a fresh schema dropped afterwards (also when the
//!   test panics); [`require_redis`] gives a fresh key prefix whose keys are deleted afterwards.
//! - **Faults**: [`RedisServer`] is a private `redis-server` on a free loopback port that a test
//!   may pause (SIGSTOP), stop, kill and restart.
//! - **Histories**: [`history::History`] records every operation of a fault test (instance, key,
//!   start, end, version seen) and [`history::Checker`] verifies read-your-writes and the
//!   documented propagation bound over all of it, Jepsen style.
//! - **Metric names**: [`metric_names::capture`] lists every metric a closure registers and
//!   [`metric_names::check`] holds them to `perfstack_<crate>_<what>_<unit>` with a `name` label.
//! - **Load**: [`load::OpenLoop`] runs a bounded open-loop load with latency measured from the
//!   scheduled start.
//! - **Config fuzzing**: [`fuzz::Fuzz`] runs every builder and setter through the values users
//!   pass by mistake (`0`, `MAX`, `Duration::MAX`, NaN, 1 MiB names, ...), each case under a
//!   time bound and a memory bound ([`fuzz::BoundedAlloc`]), failing on a panic, a hang or an
//!   absurd allocation.
//!
//! # Quick start
//!
//! ```no_run
//! #[tokio::test]
//! async fn writes_a_row() {
//!     let Some(db) = perfstack_testkit::require_postgres().await else { return };
//!     db.client().batch_execute("create table t (id int primary key); insert into t values (1)").await.unwrap();
//! }
//! ```

mod error;
pub mod fuzz;
pub mod history;
pub mod load;
pub mod metric_names;
pub mod policy;
mod postgres;
mod redis;
mod redis_server;
mod unique;

use std::io::Write;

pub use error::TestkitError;
pub use postgres::{require_postgres, PgSchema};
pub use redis::{require_redis, RedisKeys};
pub use redis_server::RedisServer;

/// Prints a warning past libtest's capture, so cleanup problems are seen.
pub(crate) fn warn(message: &str) {
    let _ = writeln!(std::io::stderr(), "perfstack-testkit: warning: {message}");
}
