//! The degradation manager's `stats()` snapshot.

use serde::Serialize;

/// A snapshot of a degradation manager.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct DegradationStats {
    /// Current level name.
    pub level: String,
    /// Current level index.
    pub index: usize,
    /// Current pressure.
    pub pressure: f64,
    /// Features disabled now.
    pub disabled: Vec<String>,
}
