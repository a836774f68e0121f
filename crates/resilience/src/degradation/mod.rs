//! Degradation levels driven by signals, with hysteresis.

mod builder;
mod manager;

pub use builder::DegradationBuilder;
pub use manager::{DegradationManager, DegradationStats, LevelChange};
