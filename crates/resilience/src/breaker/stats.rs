//! The breaker's `stats()` snapshot.

use serde::Serialize;

use super::state::State;

/// A snapshot of a breaker, for `stats()` endpoints.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct BreakerStats {
    /// Name.
    pub name: String,
    /// Current state.
    pub state: State,
    /// Transitions so far (the generation).
    pub generation: u64,
    /// Calls in the sliding window.
    pub window_calls: u64,
    /// Failures in the window.
    pub window_failures: u64,
    /// Slow calls in the window.
    pub window_slow_calls: u64,
    /// Failure rate in the window, percent (0 when empty).
    pub failure_rate: f64,
    /// Slow-call rate in the window, percent.
    pub slow_call_rate: f64,
    /// Calls refused so far.
    pub rejected: u64,
    /// Outcomes ignored because they belonged to an earlier generation.
    pub stale_outcomes: u64,
}
