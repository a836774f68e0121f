//! Client-side adaptive throttling (Google SRE book, "Handling Overload").

mod builder;
mod config;
mod handle;
mod stats;

pub use builder::ThrottleBuilder;
pub use config::ThrottleConfig;
pub use handle::AdaptiveThrottle;
pub use stats::ThrottleStats;
