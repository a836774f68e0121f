//! GCRA rate limits: [`RateLimit`] (one bucket) and [`KeyedRateLimit`] (one bucket per tenant,
//! route or client, with bounded key memory).
//!
//! The cell maths are governor's GCRA, parameter for parameter (a [`governor::Quota`]
//! configures them, and a property test checks every decision against `governor` itself).
//! perfstack keeps its own state so it can offer a [`peek`](RateLimit::peek) that checks
//! without consuming, bound the number of keys, and share the maths with the Redis script
//! (see `docs/decisions/0030-admission-own-gcra-state.md`).

mod error;
mod gcra;
mod handle;
mod keyed;
mod store;

pub use error::RateLimited;
pub use gcra::Gcra;
pub use handle::RateLimit;
pub use keyed::{KeyedRateLimit, KeyedRateLimitBuilder};
pub use store::{RateLimitStore, StoreFuture, StoreRefusal};
