//! L2: the shared tier below L1. The [`Tier`] trait and its two implementations (the
//! in-process [`MemoryStore`] and Redis), the guard every L2 call goes through (a coarse
//! timeout and a circuit breaker), and the versioned header in front of every stored value.

mod breaker;
mod deadline;
mod guard;
mod header;
mod memory;
#[cfg(feature = "redis")]
pub(crate) mod redis;
mod tier;

pub(crate) use breaker::L2Breaker;
pub(crate) use deadline::Deadlines;
pub(crate) use guard::{Guarded, L2Guard};
pub(crate) use header::{key_fingerprint, Header, HEADER_LEN};
pub use memory::{MemoryStore, MemoryTier};
pub(crate) use tier::{EventQueue, EVENT_QUEUE, RESERVED_KEY_PREFIX};
pub use tier::{EventSink, Tier, TierEvent, WriteToken};
