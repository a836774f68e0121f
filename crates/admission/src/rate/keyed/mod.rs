//! [`KeyedRateLimit`]: one GCRA bucket per key (tenant, route, client), with bounded key
//! memory.

mod builder;
mod handle;
mod shard;

pub use builder::KeyedRateLimitBuilder;
pub use handle::KeyedRateLimit;
