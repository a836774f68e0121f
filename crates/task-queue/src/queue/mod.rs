//! [`TaskQueue`]: the front door for producers (submit, status, cancel, stats).

mod builder;
mod handle;
mod stats;

pub use builder::TaskQueueBuilder;
pub use handle::TaskQueue;
pub use stats::{DepthByPriority, LatencySummary, QueueStats};
