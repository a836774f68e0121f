//! The five priority levels and how the queue ranks them.
//!
//! `Priority` is meant to be the workspace-wide type from `perfstack-resilience`; until that
//! crate lands this module is the seam: everything else in the crate only uses [`level`] and
//! [`from_level`], so switching to the shared type is a change to this file alone.

use serde::{Deserialize, Serialize};

/// How urgent a task is. Higher levels are picked first, but never forever: see
/// [`crate::Aging`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub enum Priority {
    /// Background work that may wait.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Ahead of normal work.
    High,
    /// Ahead of high work.
    Urgent,
    /// The most urgent level.
    Critical,
}

/// `Low` = 0 … `Critical` = 4.
pub(crate) fn level(p: Priority) -> u8 {
    match p {
        Priority::Low => 0,
        Priority::Normal => 1,
        Priority::High => 2,
        Priority::Urgent => 3,
        Priority::Critical => 4,
    }
}

/// The inverse of [`level`]; out-of-range values clamp to the nearest level.
pub(crate) fn from_level(l: i64) -> Priority {
    match l {
        i64::MIN..=0 => Priority::Low,
        1 => Priority::Normal,
        2 => Priority::High,
        3 => Priority::Urgent,
        _ => Priority::Critical,
    }
}

/// A short lower-case name, used as a metric label.
pub(crate) fn label(p: Priority) -> &'static str {
    match p {
        Priority::Low => "low",
        Priority::Normal => "normal",
        Priority::High => "high",
        Priority::Urgent => "urgent",
        Priority::Critical => "critical",
    }
}
