//! [`Rejected`]: why a request was not admitted, and when a retry makes sense.

use std::time::Duration;

use serde::Serialize;

use crate::Priority;

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RejectReason {
    /// A rate limit (local or distributed) is exhausted: HTTP 429.
    Rate,
    /// The concurrency limit for this priority is reached: HTTP 503.
    Concurrency,
    /// An overload signal (CPU, memory, scheduler delay) sheds this priority: HTTP 503.
    Overload,
    /// The request's deadline passed before it could start: HTTP 503.
    Deadline,
    /// The wait queue is full, or a more important request took this one's place: HTTP 503.
    QueueFull,
}

impl RejectReason {
    /// Every reason, in a fixed order (used for stats).
    pub const ALL: [RejectReason; 5] = [
        RejectReason::Rate,
        RejectReason::Concurrency,
        RejectReason::Overload,
        RejectReason::Deadline,
        RejectReason::QueueFull,
    ];

    /// Label used in metrics.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Rate => "rate",
            RejectReason::Concurrency => "concurrency",
            RejectReason::Overload => "overload",
            RejectReason::Deadline => "deadline",
            RejectReason::QueueFull => "queue_full",
        }
    }

    /// The HTTP status a server should answer with: 429 for rate limits, 503 otherwise.
    #[must_use]
    pub fn http_status(self) -> u16 {
        match self {
            RejectReason::Rate => 429,
            _ => 503,
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            RejectReason::Rate => 0,
            RejectReason::Concurrency => 1,
            RejectReason::Overload => 2,
            RejectReason::Deadline => 3,
            RejectReason::QueueFull => 4,
        }
    }
}

/// A refused request: why, at which priority, and when a retry makes sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("request not admitted ({}, priority {priority:?}){}", reason.as_str(), retry_after.map(|d| format!("; retry after {d:?}")).unwrap_or_default())]
pub struct Rejected {
    /// Why.
    pub reason: RejectReason,
    /// The request's priority.
    pub priority: Priority,
    /// When a retry may succeed, where that is known (rate limits, concurrency).
    pub retry_after: Option<Duration>,
}

impl Rejected {
    pub(crate) fn new(reason: RejectReason, priority: Priority, retry_after: Option<Duration>) -> Self {
        Self { reason, priority, retry_after }
    }

    /// `Retry-After` in whole seconds, rounded up, at least 1.
    #[must_use]
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after.map(|d| d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))).map(|s| s.max(1))
    }
}
