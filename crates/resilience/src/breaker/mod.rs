//! The circuit breaker.

mod builder;
mod classify;
mod config;
mod core;
mod events;
mod handle;
mod permit;
mod state;
pub(crate) mod window;

pub use builder::BreakerBuilder;
pub use classify::{Classifier, ErrIsFailure};
pub use config::{BreakerConfig, WindowConfig};
pub use core::Outcome;
pub(crate) use events::Listener;
pub use events::{Reason, StateChange};
pub use handle::{BreakerStats, CircuitBreaker, CircuitOpen};
pub use permit::{OwnedPermit, Permit};
pub use state::State;
