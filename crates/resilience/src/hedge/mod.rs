//! Hedged requests: a backup call after a delay; the first success wins, the loser is dropped.

mod latency;
mod policy;

pub use policy::{Hedge, HedgeBuilder, HedgeDelay, HedgeStats};
