//! [`WorkerPool`]: fetches tasks from a backend and runs them with registered handlers.

mod builder;
mod completer;
mod config;
mod fetcher;
mod handle;
mod handlers;
mod heartbeat;
mod metrics;
mod runner;
mod shared;
mod worker;

pub use builder::WorkerPoolBuilder;
pub use config::PoolConfig;
pub use handle::{ShutdownReport, WorkerPool};
