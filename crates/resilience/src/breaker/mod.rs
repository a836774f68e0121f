//! The circuit breaker.

mod builder;
mod classify;
mod config;
mod core;
mod error;
mod events;
mod handle;
mod permit;
mod state;
mod stats;
pub(crate) mod window;

pub use builder::BreakerBuilder;
pub use classify::{Classifier, ErrIsFailure};
pub use config::{BreakerConfig, WindowConfig};
pub use core::Outcome;
pub use error::CircuitOpen;
pub(crate) use events::Listener;
pub use events::{Reason, StateChange};
pub use handle::CircuitBreaker;
pub use permit::{OwnedPermit, Permit};
pub use state::State;
pub use stats::BreakerStats;
