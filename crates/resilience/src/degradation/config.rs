use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::builder::DegradationBuilder;
use super::manager::DegradationManager;
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

    /// The manager.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] as for [`DegradationBuilder::build`].
    pub fn build(&self) -> Result<DegradationManager, ConfigError> {
        self.builder().build()
    }
}
