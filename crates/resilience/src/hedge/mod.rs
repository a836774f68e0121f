//! Hedged requests: a backup call after a delay; the first success wins, the loser is dropped.

mod builder;
mod config;
mod handle;
mod latency;
mod stats;

pub use builder::HedgeBuilder;
pub use config::HedgeDelay;
pub use handle::Hedge;
pub use stats::HedgeStats;
