//! The retry budget's `stats()` snapshot.

use serde::Serialize;

/// A snapshot of a budget.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct BudgetStats {
    /// Retries that could be withdrawn right now.
    pub available: u64,
    /// Requests deposited so far.
    pub deposits: u64,
    /// Retries withdrawn so far.
    pub withdrawals: u64,
    /// Retries refused so far.
    pub refused: u64,
}
