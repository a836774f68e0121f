//! Writes: `set`, `invalidate`, `invalidate_prefix`, and storing a loaded value.

use std::sync::Arc;

use bytes::Bytes;
use tokio::time::Instant;

use super::flight::FlightTicket;
use super::handle::{Inner, TieredCache};
use super::propagation::Propagation;
use crate::error::CacheError;
use crate::l1::L1Entry;
use crate::l2::{key_fingerprint, Guarded, Header, WriteToken, HEADER_LEN};
use crate::ttl::{after, jitter, Lifetimes};

impl<V> TieredCache<V>
where
    V: Clone + Send + Sync + 'static,
{
    /// Writes `value` to L2 and L1 with the configured TTLs (jittered). Other instances drop
    /// their L1 copy within `coherence_bound`.
    ///
    /// When L2 cannot be reached the value goes to this instance's L1 only, with the short
    /// `degraded_l1_ttl`, and the result is [`Propagation::Pending`]: the cache keeps the key
    /// and invalidates it in L2 (and so in every other instance) once Redis answers again. A
    /// write that timed out is never sent to Redis later.
    ///
    /// # Errors
    ///
    /// Bad keys, [`CacheError::Encode`], [`CacheError::ValueTooLarge`].
    ///
    /// # Examples
    ///
    /// ```
    /// use perfstack_tiered_cache::{MemoryStore, TieredCache};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = MemoryStore::new();
    /// let a = TieredCache::<u32>::builder("stock").tier(store.tier()).build().await?;
    /// // Confirmed: in L2, and other instances drop their copy within `coherence_bound`.
    /// assert!(a.set("sku-1", 5).await?.is_confirmed());
    /// assert_eq!(a.get("sku-1").await?, Some(5)); // this instance reads its own write (L1)
    /// let b = TieredCache::<u32>::builder("stock").tier(store.tier()).build().await?;
    /// assert_eq!(b.get("sku-1").await?, Some(5)); // another instance, from L2
    /// # Ok(()) }
    /// ```
    pub async fn set(&self, key: &str, value: V) -> Result<Propagation, CacheError> {
        self.check_key(key)?;
        // Before the L2 write: a read or load that fetched the old value cannot put it back
        // in L1 (the generation moved, the flight is voided), and a `set` cancelled between
        // the two writes leaves no old value here. `store` moves the generation again after
        // the L2 write and voids the flight again.
        self.inner.drop_key_locally(key).await;
        let unsettled = Unsettled::key(&self.inner, key);
        let stored = self.inner.store(key, Some(&value), None, L2Write::Plain).await;
        unsettled.disarm();
        Ok(self.inner.settle(key, stored?.confirmed))
    }

    /// Removes `key` from this instance's L1, from L2, and from every other instance's L1
    /// (within `coherence_bound`). A load of `key` running anywhere when this arrives is not
    /// stored, and a read that starts after this returned does not join it.
    ///
    /// When L2 cannot be reached: [`Propagation::Pending`], retried in the background until
    /// Redis confirms it (see [`Propagation`]).
    ///
    /// # Errors
    ///
    /// Only for bad keys.
    ///
    /// # Examples
    ///
    /// ```
    /// use perfstack_tiered_cache::{loader_fn, BoxError, MemoryStore, TieredCache};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cache = TieredCache::<String>::builder("users")
    ///     .tier(MemoryStore::new().tier())
    ///     .loader(loader_fn(|id: String| async move { Ok::<_, BoxError>(Some(format!("user {id}"))) }))
    ///     .build()
    ///     .await?;
    /// cache.get_or_load("7").await?;
    /// // The source changed: drop the cached copy here, in L2 and in every other instance.
    /// assert!(cache.invalidate("7").await?.is_confirmed());
    /// assert_eq!(cache.get("7").await?, None);
    /// cache.get_or_load("7").await?; // loaded again
    /// assert_eq!(cache.stats().loads, 2);
    /// # Ok(()) }
    /// ```
    pub async fn invalidate(&self, key: &str) -> Result<Propagation, CacheError> {
        self.check_key(key)?;
        let inner = &self.inner;
        inner.drop_key_locally(key).await;
        let Some(l2) = &inner.l2 else { return Ok(Propagation::Confirmed) };
        let keys = [key.to_owned()];
        let unsettled = Unsettled::key(inner, key);
        let confirmed = matches!(l2.call("invalidate", |t| t.invalidate(&keys)).await, Guarded::Done(()));
        unsettled.disarm();
        // Pending (or superseded) first, then again locally: a read that fetched the old value
        // from L2 during the call must not keep it (Redis does not tell the writer of its own
        // delete), and a read starting after that must not fetch it again.
        let propagation = inner.settle(key, confirmed);
        inner.drop_key_locally(key).await;
        Ok(propagation)
    }

    /// Drops `key` from this instance's L1 only: L2 and other instances keep it. For memory
    /// pressure, tests and benchmarks of the L2 path.
    pub async fn forget_local(&self, key: &str) {
        self.inner.l1_remove(key).await;
    }

    /// Removes every key that starts with `prefix` from L1 here, from L2 and from every other
    /// instance's L1. Returns how many L2 entries were removed and how far the invalidation
    /// got; when L2 cannot be reached it is [`Propagation::Pending`] and retried in the
    /// background.
    ///
    /// # Errors
    ///
    /// [`CacheError::KeyTooLong`] for a prefix longer than a key may be.
    ///
    /// # Examples
    ///
    /// ```
    /// use perfstack_tiered_cache::{MemoryStore, TieredCache};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cache = TieredCache::<u32>::builder("carts").tier(MemoryStore::new().tier()).build().await?;
    /// cache.set("tenant:7:cart:1", 3).await?;
    /// cache.set("tenant:7:cart:2", 1).await?;
    /// cache.set("tenant:8:cart:1", 2).await?;
    /// let done = cache.invalidate_prefix("tenant:7:").await?;
    /// assert_eq!(done.removed, 2); // L2 entries removed
    /// assert!(done.propagation.is_confirmed());
    /// assert_eq!(cache.get("tenant:7:cart:1").await?, None);
    /// assert_eq!(cache.get("tenant:8:cart:1").await?, Some(2));
    /// # Ok(()) }
    /// ```
    pub async fn invalidate_prefix(&self, prefix: &str) -> Result<PrefixInvalidation, CacheError> {
        if prefix.len() > self.inner.cfg.max_key_bytes {
            return Err(CacheError::KeyTooLong { len: prefix.len(), max: self.inner.cfg.max_key_bytes });
        }
        self.inner.drop_prefix_locally(prefix).await;
        let Some(l2) = &self.inner.l2 else {
            return Ok(PrefixInvalidation { removed: 0, propagation: Propagation::Confirmed });
        };
        let unsettled = Unsettled::prefix(&self.inner, prefix);
        let answer = l2.call("invalidate_prefix", |t| t.invalidate_prefix(prefix)).await;
        unsettled.disarm();
        let done = match answer {
            Guarded::Done(n) => PrefixInvalidation { removed: n, propagation: Propagation::Confirmed },
            _ => {
                self.inner.pending.add_prefix(prefix);
                PrefixInvalidation { removed: 0, propagation: Propagation::Pending }
            }
        };
        // Again: reads during the scan may have promoted values it had not yet removed.
        self.inner.drop_prefix_locally(prefix).await;
        Ok(done)
    }
}

/// Armed while a write or invalidation waits for L2. Dropped armed (the caller's future was
/// cancelled), the outcome in L2 is unknown and the command may still run later (it may sit in
/// a socket or, while reconnecting, in fred's queue): it becomes pending, so its retry (on the
/// same connection, so after it) settles L2 and this instance reads the key from the loader
/// until then.
struct Unsettled<'a, V: Clone + Send + Sync + 'static> {
    inner: &'a Inner<V>,
    key: &'a str,
    prefix: bool,
    armed: bool,
}

impl<'a, V: Clone + Send + Sync + 'static> Unsettled<'a, V> {
    fn key(inner: &'a Inner<V>, key: &'a str) -> Self {
        Unsettled { inner, key, prefix: false, armed: inner.l2.is_some() }
    }
    fn prefix(inner: &'a Inner<V>, prefix: &'a str) -> Self {
        Unsettled { inner, key: prefix, prefix: true, armed: inner.l2.is_some() }
    }
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl<V: Clone + Send + Sync + 'static> Drop for Unsettled<'_, V> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let inner = self.inner;
        if self.prefix {
            inner.pending.add_prefix(self.key);
            inner.gens.bump_all();
            inner.flights.void_prefix(self.key);
        } else {
            inner.pending.add_key(self.key);
            inner.gens.bump(self.key);
            inner.flights.void(self.key);
        }
        inner.counters.pending_gauge.set(inner.pending.len() as f64);
    }
}

/// What [`TieredCache::invalidate_prefix`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PrefixInvalidation {
    /// L2 entries removed (0 when pending).
    pub removed: u64,
    /// How far the invalidation got.
    pub propagation: Propagation,
}

/// What a store did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stored {
    /// The L2 write was sent (a leased write releases its lease itself).
    pub(crate) sent: bool,
    /// L2 holds the value (or there is no L2).
    pub(crate) confirmed: bool,
}

impl<V: Clone + Send + Sync + 'static> Inner<V> {
    /// Encodes and stores a value (`None`: "not found", with the negative TTL) in L2 and L1.
    /// With a flight ticket, nothing is stored if an invalidation arrived since `epoch`; `how`
    /// says how L2 is written (see [`L2Write`]).
    pub(crate) async fn store(
        &self,
        key: &str,
        value: Option<&V>,
        flight: Option<(&FlightTicket<V>, u64)>,
        how: L2Write<'_>,
    ) -> Result<Stored, CacheError> {
        let cfg = &self.cfg;
        let (soft, hard) = match value {
            Some(_) => (cfg.soft_ttl, cfg.ttl),
            None => (cfg.negative_ttl, cfg.negative_ttl),
        };
        // One random draw for both, so the soft TTL stays below the hard one.
        let unit: f64 = rand::random();
        let (soft, hard) = (jitter(soft, cfg.jitter, unit), jitter(hard, cfg.jitter, unit));
        let now = Instant::now();
        let now_ms = self.clock.ms_at(now);
        let life = Lifetimes::new(now_ms, soft, hard);
        let mut buf = Vec::with_capacity(HEADER_LEN + 64);
        Header {
            codec: self.codec_id,
            negative: value.is_none(),
            created_ms: now_ms,
            soft_ms: life.soft_ms,
            hard_ms: life.hard_ms,
            key: Some(key_fingerprint(key)),
        }
        .write(&mut buf);
        if let Some(v) = value {
            self.codec.encode(v, &mut buf).map_err(CacheError::Encode)?;
        }
        let len = buf.len() - HEADER_LEN;
        if len > cfg.max_value_bytes {
            return Err(CacheError::ValueTooLarge { len, max: cfg.max_value_bytes });
        }
        let voided = |f: Option<(&FlightTicket<V>, u64)>| f.is_some_and(|(t, e)| !t.unchanged(e));
        if voided(flight) {
            self.counters.load_voided.add();
            return Ok(Stored { sent: false, confirmed: false });
        }
        let bytes = Bytes::from(buf);
        let size = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        let mut in_l2 = self.l2.is_none();
        let sent = self.l2.is_some() && !matches!(how, L2Write::Skip);
        // The key's generation (see `generation`). A plain write (`set`) has no version check:
        // the generation tells whether anything touched the key here while L2 was written
        // (checked after the write and after the insert). Any write that reached L2 moves it,
        // so a racing promotion of the value L2 held before, or a racing `set`, stands aside.
        let mut watch = None;
        if let Some(l2) = &self.l2 {
            let before = self.gens.of(key);
            let res = match how {
                L2Write::Lease(token, versions) => {
                    l2.call("set_with_lease", |t| t.set_with_lease(key, token, bytes, hard, versions)).await
                }
                L2Write::IfUnchanged(token) => {
                    l2.call("set_if_unchanged", |t| t.set_if_unchanged(key, bytes, hard, token)).await
                }
                L2Write::Plain => map_unit(l2.call("set", |t| t.set(key, bytes, hard)).await),
                // The versions could not be read: an unconditional write could be stale.
                L2Write::Skip => Guarded::Unavailable,
            };
            match res {
                Guarded::Done(true) => {
                    self.counters.l2_write.add();
                    in_l2 = true;
                }
                Guarded::Done(false) => {
                    // An invalidation deleted our lease or moved the key's version: the value
                    // may be stale, do not store it anywhere, and drop what L1 has (a stale
                    // entry being refreshed; its invalidation may still be on its way).
                    self.counters.load_voided.add();
                    self.drop_key_locally(key).await;
                    return Ok(Stored { sent: true, confirmed: false });
                }
                // Writes never report a corrupt entry (SET replaces a key of any type); if one
                // did, L2 does not hold the value: like unavailable.
                Guarded::Unavailable | Guarded::Corrupt => {}
            }
            if !in_l2 && matches!(how, L2Write::Plain) {
                // A `set` L2 did not take: pending *before* anything local, so that a read
                // starting from here on does not take the old value from L2, and the bump and
                // void stop a read or load that already has it from filling L1 over ours.
                self.pending.add_key(key);
                watch = Some(self.gens.bump(key));
                self.flights.void(key);
            }
            if in_l2 {
                let after = self.gens.bump(key);
                if matches!(how, L2Write::Plain) {
                    self.flights.void(key);
                    if after != before.wrapping_add(1) {
                        // The key was touched here while L2 was written (another instance's
                        // write of it landing after ours, a load): which value L2 holds now is
                        // unknown, so L1 does not guess, and holds nothing for the key. A load
                        // of this instance may have stored the value from before ours (read
                        // from the source before this write) in L1 while ours was on its way.
                        self.l1_remove(key).await;
                        return Ok(Stored { sent, confirmed: true });
                    }
                }
                watch = Some(after);
            }
        }
        let l1_hard = if in_l2 { hard } else { hard.min(cfg.degraded_l1_ttl) };
        let entry =
            Arc::new(L1Entry::new(value.cloned(), now, after(now, soft.min(l1_hard)), after(now, l1_hard), size));
        self.l1.insert(key.to_owned(), entry).await;
        let moved = watch.is_some_and(|g| self.gens.of(key) != g);
        if voided(flight) || moved {
            self.l1_remove(key).await;
        }
        Ok(Stored { sent, confirmed: in_l2 })
    }

    /// After a write or invalidation of `key`: a confirmed one supersedes a pending one, an
    /// unconfirmed one becomes pending.
    pub(crate) fn settle(&self, key: &str, confirmed: bool) -> Propagation {
        if self.l2.is_none() || confirmed {
            self.pending.superseded(key);
            Propagation::Confirmed
        } else {
            self.pending.add_key(key);
            self.counters.pending_gauge.set(self.pending.len() as f64);
            Propagation::Pending
        }
    }
}

/// How a store writes L2.
#[derive(Debug, Clone, Copy)]
pub(crate) enum L2Write<'a> {
    /// Unconditionally (the application's `set`).
    Plain,
    /// Only while this lease token holds and no invalidation happened since these versions
    /// were read (lease mode).
    Lease(&'a str, WriteToken),
    /// Only if no invalidation happened since these versions were read (loads).
    IfUnchanged(WriteToken),
    /// Not at all: L1 only, with the degraded TTL.
    Skip,
}

fn map_unit(r: Guarded<()>) -> Guarded<bool> {
    match r {
        Guarded::Done(()) => Guarded::Done(true),
        Guarded::Unavailable => Guarded::Unavailable,
        Guarded::Corrupt => Guarded::Corrupt,
    }
}
