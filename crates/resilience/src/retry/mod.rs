//! Retries with a backoff schedule, limits, a retry-if predicate and an optional budget.

mod builder;
mod config;
mod handle;
mod stats;
mod verdict;

pub use builder::RetryBuilder;
pub use config::{BackoffConfig, RetryConfig};
pub use handle::Retry;
pub use stats::RetryStats;
pub use verdict::Verdict;
