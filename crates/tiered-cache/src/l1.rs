//! L1: a moka future cache sized in bytes, with per-entry expiry.

use std::sync::Arc;
use std::time::Duration;

use moka::{future::Cache, notification::RemovalCause, Expiry};
use tokio::time::Instant;

use crate::stats::Counters;

/// Bytes counted for an entry on top of its key and encoded value (moka's node, the Arc, the
/// deadlines).
const ENTRY_OVERHEAD: u32 = 96;

/// One L1 entry. `value: None` is a cached "not found".
#[derive(Debug)]
pub(crate) struct L1Entry<V> {
    pub(crate) value: Option<V>,
    /// After this the value is stale: served once more while one refresh runs.
    pub(crate) soft: Instant,
    /// After this the entry is gone.
    pub(crate) hard: Instant,
    /// Encoded size in bytes (the weigher's input).
    pub(crate) size: u32,
}

pub(crate) type L1<V> = Cache<String, Arc<L1Entry<V>>>;

struct HardDeadline;

impl<V> Expiry<String, Arc<L1Entry<V>>> for HardDeadline {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Arc<L1Entry<V>>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        // moka keeps its own (real) clock; the cache also checks `hard` on every read, so
        // this is only for reclaiming memory and stays correct under paused tokio time.
        Some(value.hard.saturating_duration_since(Instant::now()))
    }

    fn expire_after_update(
        &self,
        key: &String,
        value: &Arc<L1Entry<V>>,
        updated_at: std::time::Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        self.expire_after_create(key, value, updated_at)
    }
}

pub(crate) fn build<V: Clone + Send + Sync + 'static>(max_bytes: u64, counters: Arc<Counters>) -> L1<V> {
    Cache::builder()
        .max_capacity(max_bytes)
        .weigher(|k: &String, v: &Arc<L1Entry<V>>| {
            (k.len() as u32).saturating_add(v.size).saturating_add(ENTRY_OVERHEAD)
        })
        .expire_after(HardDeadline)
        .support_invalidation_closures()
        .eviction_listener(move |_k, _v, cause| match cause {
            RemovalCause::Size => counters.evict_size.add(),
            RemovalCause::Expired => counters.evict_expired.add(),
            RemovalCause::Explicit => counters.evict_explicit.add(),
            RemovalCause::Replaced => {}
        })
        .build()
}
