//! The five priority levels shared by every perfstack crate.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How important a piece of work is. The admission controller and the task queue re-export
/// this type, and degradation levels say which priorities still run under load.
///
/// Ordered from least to most important: `Low < Normal < High < Urgent < Critical`.
///
/// # Examples
///
/// ```
/// use perfstack_resilience::Priority;
///
/// assert!(Priority::Low < Priority::Critical);
/// assert_eq!(Priority::default(), Priority::Normal);
/// assert_eq!("urgent".parse::<Priority>().unwrap(), Priority::Urgent);
/// assert_eq!(Priority::High.as_str(), "high");
/// assert_eq!(Priority::ALL[Priority::High.index()], Priority::High);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Background work that may wait or be dropped first.
    Low,
    /// Ordinary work (the default).
    #[default]
    Normal,
    /// Work a user is waiting for.
    High,
    /// Work that must run soon (for example a payment callback).
    Urgent,
    /// Work that must run even under heavy overload (health, control plane).
    Critical,
}

impl Priority {
    /// All levels, from `Low` to `Critical`; `ALL[p.index()] == p`.
    pub const ALL: [Priority; 5] = [Self::Low, Self::Normal, Self::High, Self::Urgent, Self::Critical];

    /// The lowercase name, as used in serde, metrics labels and configuration.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
            Self::Urgent => "urgent",
            Self::Critical => "critical",
        }
    }

    /// Position in [`Priority::ALL`], `0` for `Low` to `4` for `Critical`.
    #[must_use]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The level at `index` in [`Priority::ALL`], or `None` when out of range.
    #[must_use]
    pub const fn from_index(index: usize) -> Option<Self> {
        if index < Self::ALL.len() {
            Some(Self::ALL[index])
        } else {
            None
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a [`Priority`] from a string that names no level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown priority {0:?}: expected one of low, normal, high, urgent, critical")]
pub struct ParsePriorityError(pub String);

impl FromStr for Priority {
    type Err = ParsePriorityError;

    /// Parses a level name, ignoring ASCII case and surrounding whitespace.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| ParsePriorityError(s.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_and_indexed() {
        for (i, p) in Priority::ALL.iter().enumerate() {
            assert_eq!(p.index(), i);
            assert_eq!(Priority::from_index(i), Some(*p));
            assert_eq!(p.as_str().parse::<Priority>().unwrap(), *p);
            assert_eq!(p.as_str().to_uppercase().parse::<Priority>().unwrap(), *p);
        }
        assert!(Priority::ALL.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(Priority::from_index(5), None);
        assert!("bogus".parse::<Priority>().is_err());
    }

    #[test]
    fn serde_is_lowercase() {
        assert_eq!(serde_json::to_string(&Priority::Urgent).unwrap(), "\"urgent\"");
        assert_eq!(serde_json::from_str::<Priority>("\"critical\"").unwrap(), Priority::Critical);
    }
}
