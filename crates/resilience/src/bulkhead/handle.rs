//! The bulkhead handle: take a slot at once or wait for one in the bounded queue.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_utils::CachePadded;
use tokio::sync::Notify;

use super::builder::BulkheadBuilder;
use super::config::BulkheadConfig;
use super::error::BulkheadFull;
use super::permit::BulkheadPermit;
use super::stats::BulkheadStats;
use crate::counter::LazyCounter;
use crate::error::{ConfigError, Error};

/// Caps concurrent calls (a semaphore on one atomic), with an optional bounded wait queue and
/// a maximum wait. Cheap to clone; clones share the cap.
///
/// # Examples
///
/// ```
/// use perfstack_resilience::Bulkhead;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let bulkhead = Bulkhead::builder("db").max_concurrent(1).build().unwrap();
/// let held = bulkhead.try_acquire().unwrap();
/// assert!(bulkhead.try_acquire().is_none());
/// assert!(bulkhead.call(async { Ok::<_, ()>(()) }).await.unwrap_err().is_rejection());
/// drop(held);
/// assert_eq!(bulkhead.call(async { Ok::<_, ()>(5) }).await.unwrap(), 5);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Bulkhead {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    name: Arc<str>,
    pub(super) in_flight: CachePadded<AtomicUsize>,
    pub(super) waiting: AtomicUsize,
    max: usize,
    max_queue: usize,
    max_wait: Option<Duration>,
    pub(super) freed: Notify,
    rejected: AtomicU64,
    /// Registered on the first rejection.
    rejected_counter: LazyCounter,
}

impl Bulkhead {
    /// A builder with the defaults of [`BulkheadConfig`].
    pub fn builder(name: impl Into<String>) -> BulkheadBuilder {
        BulkheadBuilder::new(name.into())
    }

    /// A bulkhead from a configuration.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid setting.
    pub fn from_config(name: impl Into<String>, c: &BulkheadConfig) -> Result<Self, ConfigError> {
        c.validate()?;
        let name: Arc<str> = name.into().into();
        Ok(Self {
            inner: Arc::new(Inner {
                rejected_counter: LazyCounter::new("perfstack_resilience_bulkhead_rejected_total", name.clone()),
                name,
                in_flight: CachePadded::new(AtomicUsize::new(0)),
                waiting: AtomicUsize::new(0),
                max: usize::try_from(c.max_concurrent).unwrap_or(usize::MAX),
                max_queue: usize::try_from(c.max_queue).unwrap_or(usize::MAX),
                max_wait: c.max_wait,
                freed: Notify::new(),
                rejected: AtomicU64::new(0),
            }),
        })
    }

    /// A slot if one is free now.
    #[inline]
    pub fn try_acquire(&self) -> Option<BulkheadPermit> {
        let inner = &self.inner;
        let mut cur = inner.in_flight.load(Ordering::Acquire);
        while cur < inner.max {
            match inner.in_flight.compare_exchange_weak(cur, cur + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(BulkheadPermit::new(inner.clone())),
                Err(c) => cur = c,
            }
        }
        None
    }

    /// A slot, waiting in the queue if the settings allow.
    ///
    /// # Errors
    ///
    /// [`BulkheadFull`] when full and the queue is full, or the maximum wait elapsed.
    pub async fn acquire(&self) -> Result<BulkheadPermit, BulkheadFull> {
        if let Some(p) = self.try_acquire() {
            return Ok(p);
        }
        let inner = &*self.inner;
        if inner.waiting.fetch_add(1, Ordering::AcqRel) >= inner.max_queue {
            inner.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(self.reject());
        }
        let _queued = QueueSlot(&inner.waiting);
        // A wait too long to represent as an instant is no deadline at all.
        let deadline = inner.max_wait.and_then(|d| tokio::time::Instant::now().checked_add(d));
        loop {
            let notified = inner.freed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(p) = self.try_acquire() {
                return Ok(p);
            }
            match deadline {
                Some(at) => {
                    if tokio::time::timeout_at(at, notified).await.is_err() {
                        return Err(self.reject());
                    }
                }
                None => notified.await,
            }
        }
    }

    fn reject(&self) -> BulkheadFull {
        self.inner.rejected.fetch_add(1, Ordering::Relaxed);
        self.inner.rejected_counter.increment();
        BulkheadFull { name: self.inner.name.clone() }
    }

    /// Runs `fut` in a slot.
    ///
    /// # Errors
    ///
    /// [`Error::BulkheadFull`] when refused, [`Error::Inner`] with the call's own error.
    pub async fn call<F, T, E>(&self, fut: F) -> Result<T, Error<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        let _permit = self.acquire().await?;
        fut.await.map_err(Error::Inner)
    }

    /// A snapshot.
    #[must_use]
    pub fn stats(&self) -> BulkheadStats {
        BulkheadStats {
            name: self.inner.name.to_string(),
            in_flight: self.inner.in_flight.load(Ordering::Relaxed),
            waiting: self.inner.waiting.load(Ordering::Relaxed),
            rejected: self.inner.rejected.load(Ordering::Relaxed),
        }
    }
}

struct QueueSlot<'a>(&'a AtomicUsize);

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
