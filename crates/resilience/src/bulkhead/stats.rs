//! The bulkhead's `stats()` snapshot.

use serde::Serialize;

/// A snapshot of a bulkhead.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct BulkheadStats {
    /// Name.
    pub name: String,
    /// Calls running now.
    pub in_flight: usize,
    /// Calls waiting now.
    pub waiting: usize,
    /// Calls refused so far.
    pub rejected: u64,
}
