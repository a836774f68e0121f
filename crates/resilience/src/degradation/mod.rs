//! Degradation levels driven by signals, with hysteresis.

mod builder;
mod config;
mod manager;

pub use builder::DegradationBuilder;
pub use config::{DegradationConfig, LevelConfig};
pub use manager::{DegradationManager, DegradationStats, LevelChange};
