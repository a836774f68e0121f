//! Where a task is in its lifecycle.

use serde::{Deserialize, Serialize};

use crate::priority::Priority;
use crate::task::TaskId;

/// Lifecycle: `Pending → Running → Completed`, or `Running → Failed` (waiting for a retry)
/// `→ Running …`, ending in `Dead` when attempts run out or the failure is permanent; a pending
/// or running task can be `Cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting to run (possibly delayed).
    Pending,
    /// Leased by a worker.
    Running,
    /// Failed an attempt, waiting for its retry.
    Failed,
    /// Finished successfully.
    Completed,
    /// Gave up: attempts exhausted, permanent error, unknown kind or unreadable payload.
    Dead,
    /// Cancelled before it finished.
    Cancelled,
}

impl TaskState {
    /// True for `Completed`, `Dead` and `Cancelled`.
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Dead | Self::Cancelled)
    }

    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn code(self) -> i16 {
        match self {
            Self::Pending => 0,
            Self::Failed => 1,
            Self::Running => 2,
            Self::Completed => 3,
            Self::Dead => 4,
            Self::Cancelled => 5,
        }
    }

    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn from_code(c: i16) -> Self {
        match c {
            0 => Self::Pending,
            1 => Self::Failed,
            2 => Self::Running,
            3 => Self::Completed,
            4 => Self::Dead,
            _ => Self::Cancelled,
        }
    }

    /// Lower-case name, used as a metric label.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Failed => "failed",
            Self::Completed => "completed",
            Self::Dead => "dead",
            Self::Cancelled => "cancelled",
        }
    }
}

/// A task's current state as returned by `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInfo {
    /// The task.
    pub id: TaskId,
    /// Its kind.
    pub kind: String,
    /// Its priority.
    pub priority: Priority,
    /// Where it is.
    pub state: TaskState,
    /// Attempts started so far.
    pub attempts: u32,
    /// Maximum attempts.
    pub max_attempts: u32,
    /// The last error (kept on dead-lettered tasks).
    pub last_error: Option<String>,
}

/// What `cancel` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CancelOutcome {
    /// The task was pending and is removed.
    Removed,
    /// The task is running; its handler's cancellation token fired.
    Signalled,
    /// The task had already finished.
    AlreadyFinished,
    /// No such task.
    NotFound,
}
