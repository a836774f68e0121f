//! The in-memory backend: one process, no durability, bounded with backpressure.

mod config;
mod finished;
mod handle;
mod lease;
mod ready;
mod shards;
mod state;

pub use config::MemoryConfig;
pub use handle::MemoryBackend;
pub(crate) use lease::Leased;
