//! Retries with a backoff schedule, limits, a retry-if predicate and an optional budget.

mod builder;
mod config;
mod policy;

pub use builder::RetryBuilder;
pub use config::{BackoffConfig, RetryConfig};
pub use policy::{Retry, RetryStats, Verdict};
