//! The hedge's `stats()` snapshot.

use serde::Serialize;

/// A snapshot of a hedge.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct HedgeStats {
    /// Calls made.
    pub calls: u64,
    /// Backup calls started.
    pub backups: u64,
    /// Calls answered by the backup.
    pub backup_wins: u64,
    /// Backups refused by the budget.
    pub budget_refusals: u64,
    /// The current hedge delay.
    pub delay_nanos: u64,
}
