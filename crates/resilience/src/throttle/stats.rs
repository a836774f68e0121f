//! The adaptive throttle's `stats()` snapshot.

use serde::Serialize;

/// A snapshot of an adaptive throttle.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ThrottleStats {
    /// Requests in the window.
    pub requests: u64,
    /// Accepted by the backend, in the window.
    pub accepts: u64,
    /// Current local rejection probability.
    pub reject_probability: f64,
    /// Requests throttled locally so far.
    pub throttled: u64,
}
