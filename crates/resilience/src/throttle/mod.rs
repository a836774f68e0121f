//! Client-side adaptive throttling (Google SRE book, "Handling Overload").

mod policy;

pub use policy::{AdaptiveThrottle, ThrottleBuilder, ThrottleConfig, ThrottleStats};
