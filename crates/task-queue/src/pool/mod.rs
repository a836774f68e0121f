//! [`WorkerPool`]: fetches tasks from a backend and runs them with registered handlers.

mod builder;
mod completer;
mod fetcher;
mod handle;
mod metrics;
mod runner;
mod shared;

pub use builder::{PoolConfig, WorkerPoolBuilder};
pub use handle::{ShutdownReport, WorkerPool};
