//! The second tier: a shared byte store (Redis in production, anything in tests).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::TierError;

/// A shared cache level below L1. Keys are the user's keys; an implementation adds its own
/// namespace. Values are opaque bytes (header + payload). [`crate::TieredCache`] wraps every
/// call in a timeout and a circuit breaker and never surfaces a `TierError` to its callers.
#[async_trait]
pub trait Tier: Send + Sync + 'static {
    /// Reads an entry.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, TierError>;
    /// Writes an entry that the store drops after `ttl`.
    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), TierError>;
    /// Removes entries (and any lease on them) and tells other instances to drop them from L1.
    async fn invalidate(&self, keys: &[String]) -> Result<(), TierError>;
    /// Removes every entry whose key starts with `prefix`, tells other instances; returns how
    /// many entries were removed.
    async fn invalidate_prefix(&self, prefix: &str) -> Result<u64, TierError>;
    /// Tries to take the load lease of `key` for `ttl` (`SET NX PX`). `true` when taken.
    async fn try_lease(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, TierError>;
    /// Writes `value` only if the lease `token` still holds (no invalidation deleted it) and
    /// no invalidation or `set` of `key`, nor a prefix invalidation, happened since `versions`
    /// were read (right after the lease was won); releases the lease either way. `true` when
    /// written.
    async fn set_with_lease(
        &self,
        key: &str,
        token: &str,
        value: Bytes,
        ttl: Duration,
        versions: WriteToken,
    ) -> Result<bool, TierError>;
    /// Releases the lease of `key` if `token` still holds it (its load failed or stored
    /// nothing) and wakes the instances waiting for it, which then load themselves. The
    /// default does nothing: the lease expires after its TTL.
    async fn release_lease(&self, key: &str, token: &str) -> Result<(), TierError> {
        let _ = (key, token);
        Ok(())
    }
    /// Reads the invalidation versions of `key` (its own and the prefix-invalidation epoch).
    /// A load reads this before calling the loader and stores its result with
    /// [`Tier::set_if_unchanged`], so an invalidation that lands anywhere in between — even
    /// before this instance hears of it — keeps the stale result out of L2. The default (a
    /// tier without versions) returns zeros.
    async fn write_token(&self, key: &str) -> Result<WriteToken, TierError> {
        let _ = key;
        Ok(WriteToken::default())
    }
    /// Writes `value` only if no invalidation (of `key`, or of any prefix) happened since
    /// `token` was read, atomically. `true` when written. The default writes unconditionally.
    async fn set_if_unchanged(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
        token: WriteToken,
    ) -> Result<bool, TierError> {
        let _ = token;
        self.set(key, value, ttl).await.map(|()| true)
    }
    /// Reads a small piece of cache metadata (the hot-key list).
    async fn get_meta(&self, name: &str) -> Result<Option<Bytes>, TierError>;
    /// Writes a small piece of cache metadata.
    async fn set_meta(&self, name: &str, value: Bytes) -> Result<(), TierError>;
    /// A read of this tier returned an entry written for another key: the replies of its
    /// connection may be out of step with its commands (a client bug). The Redis tier drops
    /// and reopens its command connection, at most once a second; the default does nothing.
    fn out_of_step(&self) {}
    /// Called once when the cache starts: the tier sends changes made by other instances
    /// (and flushes) to `sink`. The default sends nothing.
    fn attach(&self, sink: EventSink) {
        let _ = sink;
    }
}

/// Invalidation versions read before a load (see [`Tier::write_token`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteToken {
    /// Bumped by every invalidation (and `set`) of the key.
    pub key_version: u64,
    /// Bumped by every prefix invalidation.
    pub prefix_epoch: u64,
}

/// What a tier tells its cache about changes made elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TierEvent {
    /// These keys changed or were removed in L2.
    Keys(Vec<String>),
    /// Every key with this prefix was removed.
    Prefix(String),
    /// Everything may have changed (FLUSHALL, reconnect, missed messages): flush L1.
    FlushAll,
    /// The lease of this key was given up without a value (its load failed or stored
    /// nothing): instances waiting for it stop waiting. Nothing is invalidated.
    LeaseReleased(String),
    /// Every change made in L2 before this instant has been delivered (a heartbeat through
    /// the invalidation channel came back). Applied in order with the other events, it lets
    /// the cache serve L1 for `coherence_bound` after this instant. Ignored by caches whose
    /// tier sends no heartbeats.
    CaughtUp(tokio::time::Instant),
}

/// Keys starting with this are the cache's own (the Redis tier's echo probes, which no
/// instance treats as a cache event); user keys may not start with it.
pub(crate) const RESERVED_KEY_PREFIX: &str = "\u{0}echo-probe:";

/// How many events may wait for a cache's event loop; beyond that they are coalesced into
/// one "flush L1" (an overflow means invalidations would otherwise be dropped or memory grow
/// without bound).
pub(crate) const EVENT_QUEUE: usize = 4_096;

/// Where a tier delivers [`TierEvent`]s for its cache. Cheap to clone. The queue is bounded:
/// when it is full, further events are coalesced into a flush of L1.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: tokio::sync::mpsc::Sender<TierEvent>,
    overflow: Arc<AtomicBool>,
}

/// The receiving end of an [`EventSink`].
#[derive(Debug)]
pub(crate) struct EventQueue {
    pub(crate) rx: tokio::sync::mpsc::Receiver<TierEvent>,
    overflow: Arc<AtomicBool>,
}

impl EventQueue {
    /// `true` (once) when events were dropped because the queue was full since last asked.
    pub(crate) fn take_overflow(&self) -> bool {
        self.overflow.swap(false, Ordering::AcqRel)
    }
}

impl EventSink {
    /// A sink and its queue holding at most `capacity` events.
    pub(crate) fn channel(capacity: usize) -> (EventSink, EventQueue) {
        let (tx, rx) = tokio::sync::mpsc::channel(capacity.max(1));
        let overflow = Arc::new(AtomicBool::new(false));
        (EventSink { tx, overflow: overflow.clone() }, EventQueue { rx, overflow })
    }

    /// Delivers an event; ignored once the cache is gone. Never blocks: when the queue is
    /// full the event is dropped and the cache flushes L1 instead.
    pub fn send(&self, event: TierEvent) {
        if let Err(tokio::sync::mpsc::error::TrySendError::Full(_)) = self.tx.try_send(event) {
            self.overflow.store(true, Ordering::Release);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_coalesces_into_one_overflow_flag() {
        let (sink, mut q) = EventSink::channel(2);
        for i in 0..5 {
            sink.send(TierEvent::Keys(vec![format!("k{i}")]));
        }
        assert!(q.take_overflow());
        assert!(!q.take_overflow(), "reported once");
        assert_eq!(q.rx.try_recv().unwrap(), TierEvent::Keys(vec!["k0".into()]));
        assert_eq!(q.rx.try_recv().unwrap(), TierEvent::Keys(vec!["k1".into()]));
        assert!(q.rx.try_recv().is_err(), "bounded");
    }
}
