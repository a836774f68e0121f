//! A tiered cache for Rust services: **L1** in process memory ([`moka`], sized in bytes),
//! **L2** in Redis ([`fred`], shared by every instance), **L3** your loader (usually
//! PostgreSQL). Coherent across instances, and safe when Redis fails.
//!
//! What it does for you:
//!
//! - **Single-flight per process**: 1,000 concurrent misses of one key run the loader once and
//!   write Redis once; the load runs detached, so a caller that gives up cancels nothing.
//! - **Lease mode across instances** (opt-in): a short Redis lease (`SET NX PX` + token) so N
//!   instances missing one key load it once; losers wait to be woken by the invalidation
//!   channel. An invalidation during the load voids it (no stale set).
//! - **No stale sets without leases either**: a load stores in L2 only if the key's
//!   invalidation version and the prefix epoch did not move since it started (checked
//!   atomically in a Lua script).
//! - **Bounded staleness across instances**: L1 is served only while heartbeats through the
//!   invalidation channel prove it current (`coherence_bound`, 250 ms by default); a read that
//!   starts that long after a write returned on another instance sees it.
//! - **Redis outages**: L2 calls go through a timeout and a circuit breaker; a write or
//!   invalidation that Redis did not confirm returns [`Propagation::Pending`] and is retried
//!   until it is; a timed-out write is never sent later; when the breaker closes again,
//!   whichever call was the probe, L1 is flushed.
//! - **Stale-while-revalidate** (soft and hard TTL), **negative caching**, **TTL jitter**, and a
//!   value promoted from L2 keeps its *remaining* lifetime.
//! - **Invalidation across instances**: Redis client tracking (BCAST, NOLOOP) plus a pub/sub
//!   channel; a reconnect or a `FLUSHALL` flushes L1.
//! - **Redis failure**: L2 calls go through a timeout and a circuit breaker; callers are served
//!   from L1 and the loader with no error, L1 fills use a short TTL, and L1 is flushed when the
//!   breaker closes.
//! - **Warming**: hot keys are tracked and persisted in Redis; [`TieredCache::warm`] preloads
//!   them into a new instance.
//! - **Versioned entries**: every L2 value carries a header (format version, codec id,
//!   created-at, soft and hard expiry); corrupt, foreign or other-codec bytes are a counted
//!   miss, never a panic.
//!
//! # Quick start
//!
//! ```
//! use perfstack_tiered_cache::{loader_fn, BoxError, MemoryStore, TieredCache};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // With Redis: `.redis(fred_client)` instead of `.tier(..)`.
//! let store = MemoryStore::new();
//! let cache = TieredCache::<String>::builder("users")
//!     .tier(store.tier())
//!     .ttl(Duration::from_secs(60))
//!     .soft_ttl(Duration::from_secs(50))
//!     .loader(loader_fn(|id: String| async move {
//!         Ok::<_, BoxError>(if id == "0" { None } else { Some(format!("user {id}")) })
//!     }))
//!     .build()
//!     .await?;
//! assert_eq!(cache.get_or_load("7").await?, Some("user 7".into()));
//! assert_eq!(cache.get_or_load("0").await?, None); // "not found", cached for negative_ttl
//! cache.invalidate("7").await?;
//! # Ok(()) }
//! ```
//!
//! # Feature flags
//!
//! - `redis` (default): [`TieredCacheBuilder::redis`], Redis as L2 and invalidation channel.
//!
//! # Metrics
//!
//! Through the `metrics` facade, every series labelled `cache`:
//!
//! | name | labels | what |
//! |---|---|---|
//! | `perfstack_cache_requests_total` | `tier` (`l1`, `l2`, `any`), `outcome` (`hit`, `miss`, `stale`, `negative`, `unverified`) | reads by tier and outcome; `stale` and `negative` are counted with `tier="any"` (served from L1 or L2); `unverified`: an L1 entry not served for want of a current heartbeat (a miss too) |
//! | `perfstack_cache_loads_total` | `outcome` (`ok`, `not_found`, `error`, `voided`, `timeout`) | loader calls; `timeout` (past `load_timeout`) is counted as `error` too |
//! | `perfstack_cache_load_seconds` | | loader latency (histogram) |
//! | `perfstack_cache_refreshes_total` | `outcome` (`ok`, `error`) | stale-while-revalidate refreshes |
//! | `perfstack_cache_evictions_total` | `cause` (`size`, `expired`, `explicit`) | L1 removals; `size` only with `l1_eviction_stats(true)`; `expired` counts entries a read found past their hard TTL (once each), not entries moka reclaims unread |
//! | `perfstack_cache_l2_writes_total` | | values written to L2 |
//! | `perfstack_cache_l2_errors_total` | `kind` (`backend`, `breaker_open`, `corrupt`) | L2 trouble (never surfaced to callers) |
//! | `perfstack_cache_leases_total` | `outcome` (`acquired`, `waited`, `wait_timeout`) | lease mode |
//! | `perfstack_cache_invalidations_received_total` | | events from other instances / Redis |
//! | `perfstack_cache_l1_flushes_total` | | whole-L1 flushes (reconnect, FLUSHALL, breaker closing) |
//! | `perfstack_cache_inflight_loads` | | gauge: loads running now |
//! | `perfstack_cache_l2_breaker_open` | | gauge: 1 while the L2 breaker is open, 0 otherwise (from build) |
//! | `perfstack_cache_pending_invalidations` | | gauge: writes and invalidations L2 has not confirmed yet |
//! | `perfstack_cache_pending_confirmed_total` | | pending ones that L2 later confirmed |
//!
//! The same numbers are in [`TieredCache::stats`] ([`CacheStats`], serde `Serialize`).

mod breaker;
mod cache;
mod codec;
mod config;
mod deadline;
mod error;
mod flight;
mod generation;
mod guard;
mod header;
mod hot;
mod l1;
mod loader;
mod memory;
mod pending;
mod propagation;
#[cfg(feature = "redis")]
mod redis;
mod stats;
mod tier;
mod trust;
mod ttl;
mod upkeep;

pub use cache::{BuildError, PrefixInvalidation, TieredCache, TieredCacheBuilder};
pub use codec::{Codec, JsonCodec, PostcardCodec};
pub use config::{Config, LeaseConfig};
pub use error::{BoxError, CacheError, DecodeError, TierError};
pub use loader::{loader_fn, FnLoader, Loader};
pub use memory::{MemoryStore, MemoryTier};
pub use propagation::Propagation;
pub use stats::CacheStats;
pub use tier::{EventSink, Tier, TierEvent, WriteToken};

#[cfg(test)]
mod tests {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn handles_are_send_sync_and_clone() {
        assert_send_sync::<crate::TieredCache<String>>();
        assert_send_sync::<crate::MemoryStore>();
    }
}
