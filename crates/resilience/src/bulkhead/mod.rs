//! The bulkhead: a cap on concurrent calls with an optional bounded wait queue.

mod builder;
mod config;
mod error;
mod handle;
mod permit;
mod stats;

pub use builder::BulkheadBuilder;
pub use config::BulkheadConfig;
pub use error::BulkheadFull;
pub use handle::Bulkhead;
pub use permit::BulkheadPermit;
pub use stats::BulkheadStats;
