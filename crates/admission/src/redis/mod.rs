//! A GCRA rate limit shared by many instances through Redis (feature `redis`).
//!
//! One round trip per lease: an `EVALSHA` of a small Lua script that reads the server's
//! `TIME` (never the clients' clocks, which drift apart) and updates the bucket atomically.
//! When Redis is unreachable the [`FailPolicy`] decides: admit (fail open, the default for
//! protecting capacity you can afford to exceed briefly) or refuse (fail closed, for quotas
//! that must hold). A circuit breaker ([`perfstack_resilience::CircuitBreaker`]) guards the
//! round trip: once Redis is known down, checks apply the policy at once without waiting for
//! the timeout, and a half-open probe notices when Redis is back. A local pre-check refuses
//! requests this instance alone already knows are over the limit, and by default a round trip
//! leases `burst / (2 × instances)` cells (1 to 64), spent locally, so clearly-allowed
//! traffic does not pay a round trip per request; unused cells go back to Redis with the next
//! round trip. Cells are charged in Redis before they are used, so leases never over-admit;
//! `lease_cells(1)` makes every decision in Redis.

mod builder;
mod error;
mod handle;
mod script;

pub use builder::RedisRateLimitBuilder;
pub use error::RedisRateError;
pub use handle::{FailPolicy, RedisRateLimit};
