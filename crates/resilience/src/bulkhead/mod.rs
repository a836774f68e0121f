//! The bulkhead: a cap on concurrent calls with an optional bounded wait queue.

mod config;
mod handle;

pub use config::BulkheadConfig;
pub use handle::{Bulkhead, BulkheadBuilder, BulkheadFull, BulkheadPermit, BulkheadStats};
