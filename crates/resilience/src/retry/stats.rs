//! The retry policy's `stats()` snapshot.

use serde::Serialize;

/// A snapshot of a retry policy's counters.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RetryStats {
    /// Name.
    pub name: String,
    /// Calls made through the policy.
    pub calls: u64,
    /// Retries made.
    pub retries: u64,
    /// Retries refused by the budget.
    pub budget_refusals: u64,
}
