//! [`TieredCache`]: the front door, and every path through it (reads, loads, writes and
//! invalidations, events from other instances, warming) with the bookkeeping that keeps them
//! coherent (single-flight, generations, pending writes).

mod builder;
mod drain;
mod events;
mod flight;
mod generation;
mod handle;
mod load;
mod lookup;
mod pending;
mod propagation;
mod read;
mod warm;
mod write;

pub use builder::TieredCacheBuilder;
pub use handle::TieredCache;
pub use propagation::Propagation;
pub use write::PrefixInvalidation;
