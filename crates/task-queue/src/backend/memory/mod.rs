//! The in-memory backend: one process, no durability, bounded with backpressure.

mod backend;
mod config;
mod finished;
mod lease;
mod ready;
mod shards;
mod state;

pub use backend::MemoryBackend;
pub use config::{MemoryConfig, WhenFull};
pub(crate) use lease::Leased;
