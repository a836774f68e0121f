//! [`Propagation`]: how far a write or invalidation got.

/// How far a [`set`](crate::TieredCache::set) or an invalidation got when it returned.
///
/// The change is always applied to this instance's L1 first, so this instance reads its own
/// writes either way. What differs is every other instance:
///
/// ```
/// use perfstack_tiered_cache::{MemoryStore, Propagation, TieredCache};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cache = TieredCache::<u32>::builder("t").tier(MemoryStore::new().tier()).build().await?;
/// match cache.set("k", 7).await? {
///     Propagation::Confirmed => {} // in L2; other instances drop their copy within coherence_bound
///     Propagation::Pending => {}   // L2 unreachable: retried in the background until confirmed
///     _ => {}
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Propagation {
    /// L2 has the change (or there is no L2). Every other instance stops serving the old
    /// value from its L1 within `coherence_bound` (default 250 ms).
    Confirmed,
    /// L2 could not be reached (down, paused, timed out, breaker open). The change is applied
    /// to this instance only: a value written by `set` lives in L1 for `degraded_l1_ttl`,
    /// and this instance reads the key from the loader (not from L2, which may hold the old
    /// value) until L2 confirms. The cache retries it as an invalidation of L2 in the
    /// background until Redis confirms it (`stats().pending_invalidations` counts what
    /// waits); until then other instances may still serve the old value.
    Pending,
}

impl Propagation {
    /// `true` for [`Propagation::Confirmed`].
    #[must_use]
    pub fn is_confirmed(self) -> bool {
        matches!(self, Propagation::Confirmed)
    }
}
