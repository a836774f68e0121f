//! Serde configuration of degradation levels.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::builder::DegradationBuilder;
use super::handle::DegradationManager;
use crate::error::ConfigError;

/// One degradation level in configuration form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelConfig {
    /// Level name (`"degraded"`, `"critical"`).
    pub name: String,
    /// Pressure in `[0, 1]` at which the level is entered.
    pub enter_at: f64,
    /// Pressure below which it is left (hysteresis; at most `enter_at`).
    pub exit_below: f64,
    /// Features turned off at this level.
    #[serde(default)]
    pub disabled: Vec<String>,
}

/// Serde settings of a [`DegradationManager`]: levels above `"normal"`, mild to severe.
///
/// | field | default |
/// |---|---|
/// | `levels` | none (only `"normal"`) |
/// | `min_dwell` | 10 s |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DegradationConfig {
    /// The levels.
    pub levels: Vec<LevelConfig>,
    /// Shortest time at a level before stepping down.
    pub min_dwell: Duration,
}

impl Default for DegradationConfig {
    fn default() -> Self {
        Self { levels: Vec::new(), min_dwell: Duration::from_secs(10) }
    }
}

impl DegradationConfig {
    /// A builder with these levels (add breakers, a clock or callbacks before building).
    pub fn builder(&self) -> DegradationBuilder {
        self.levels.iter().fold(DegradationManager::builder().min_dwell(self.min_dwell), |b, l| {
            b.level(l.name.clone(), l.enter_at, l.exit_below, l.disabled.iter().cloned())
        })
    }

    /// Checks the levels.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] as for [`DegradationBuilder::build`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_levels(self.levels.iter().map(|l| (l.enter_at, l.exit_below)))
    }

    /// The manager.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] as for [`DegradationBuilder::build`].
    pub fn build(&self) -> Result<DegradationManager, ConfigError> {
        self.builder().build()
    }
}

/// Checks levels above `"normal"`, mild to severe, as `(enter_at, exit_below)` pairs.
pub(super) fn check_levels(levels: impl Iterator<Item = (f64, f64)>) -> Result<(), ConfigError> {
    let mut prev = 0.0;
    for (enter_at, exit_below) in levels {
        for (name, v) in [("enter_at", enter_at), ("exit_below", exit_below)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(ConfigError::OutOfRange { name, value: v, expected: "0 to 1" });
            }
        }
        if exit_below > enter_at {
            return Err(ConfigError::Inconsistent("a level's exit_below is above its enter_at"));
        }
        if enter_at <= prev {
            return Err(ConfigError::Inconsistent("levels must have increasing enter_at values above 0"));
        }
        prev = enter_at;
    }
    Ok(())
}
