//! The five priority levels. TEMPORARY local copy until `perfstack_resilience::Priority` lands;
//! it has the same shape so the swap is a one-line re-export.

use serde::{Deserialize, Serialize};

/// How important a request is; under overload the lowest levels are shed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Background work, shed first.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Interactive work.
    High,
    /// Work that should almost never be shed.
    Urgent,
    /// Work that must keep its goodput (health checks, payments).
    Critical,
}

impl Priority {
    /// Every level, lowest first.
    pub const ALL: [Priority; 5] =
        [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent, Priority::Critical];

    /// 0 for `Low` up to 4 for `Critical`.
    #[must_use]
    pub const fn index(self) -> usize {
        self as usize
    }
}
