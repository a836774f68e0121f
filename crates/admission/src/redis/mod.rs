//! A GCRA rate limit shared by many instances through Redis (feature `redis`).
//!
//! One round trip per decision: an `EVALSHA` of a small Lua script that reads the server's
//! `TIME` (never the clients' clocks, which drift apart) and updates the bucket atomically.
//! When Redis is unreachable the [`FailPolicy`] decides: admit (fail open, the default for
//! protecting capacity you can afford to exceed briefly) or refuse (fail closed, for quotas
//! that must hold). A local pre-check refuses requests this instance alone already knows are
//! over the limit, and a lease (`lease_cells > 1`) takes several cells per round trip so
//! allowed traffic does not pay a round trip per request.

mod limiter;
mod script;

pub use limiter::{FailPolicy, RedisRateError, RedisRateLimit, RedisRateLimitBuilder};
