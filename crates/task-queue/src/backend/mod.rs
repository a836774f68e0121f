//! The storage seam: where tasks wait, who holds them, and how outcomes are written. The
//! [`Backend`] trait, the in-memory backend, and (feature `postgres`) the durable one.

mod api;
mod config;
pub mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;

pub use api::{Backend, Completion, HeartbeatReply, LeasedTask, Outcome};
pub use config::WhenFull;
