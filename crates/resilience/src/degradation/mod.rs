//! Degradation levels driven by signals, with hysteresis.

mod builder;
mod config;
mod events;
mod handle;
mod stats;

pub use builder::DegradationBuilder;
pub use config::{DegradationConfig, LevelConfig};
pub use events::LevelChange;
pub use handle::DegradationManager;
pub use stats::DegradationStats;
