//! Settings every bounded backend shares: what a submit does when the backend is full.

use serde::{Deserialize, Serialize};

/// What `submit` does when a bounded backend is full: the memory backend at its
/// [`capacity`](super::memory::MemoryConfig::capacity), the PostgreSQL backend at its
/// `max_pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Wait for room (backpressure on the producer).
    #[default]
    Wait,
    /// Fail at once with [`QueueError::Full`](crate::QueueError::Full).
    Reject,
}
