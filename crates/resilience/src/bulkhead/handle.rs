use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_utils::CachePadded;
use serde::Serialize;
use tokio::sync::Notify;

use super::config::BulkheadConfig;
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
struct Inner {
    name: Arc<str>,
    in_flight: CachePadded<AtomicUsize>,
    waiting: AtomicUsize,
    max: usize,
    max_queue: usize,
    max_wait: Option<Duration>,
    freed: Notify,
    rejected: AtomicU64,
    /// Registered on the first rejection.
    rejected_counter: std::sync::OnceLock<metrics::Counter>,
}

/// Refused: the bulkhead was full and could not queue, or the wait expired.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bulkhead {name} is full")]
pub struct BulkheadFull {
    /// The bulkhead's name.
    pub name: Arc<str>,
}

impl<E> From<BulkheadFull> for Error<E> {
    fn from(e: BulkheadFull) -> Self {
        Error::BulkheadFull { name: e.name }
    }
}

/// A slot in the bulkhead, freed on drop.
#[derive(Debug)]
#[must_use = "the slot is freed when the permit is dropped"]
pub struct BulkheadPermit {
    inner: Arc<Inner>,
}

impl Drop for BulkheadPermit {
    #[inline]
    fn drop(&mut self) {
        self.inner.in_flight.fetch_sub(1, Ordering::AcqRel);
        if self.inner.waiting.load(Ordering::Acquire) > 0 {
            self.inner.freed.notify_one();
        }
    }
}

/// A snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct BulkheadStats {
    /// Name.
    pub name: String,
    /// Calls running now.
    pub in_flight: usize,
    /// Calls waiting now.
    pub waiting: usize,
    /// Calls refused so far.
    pub rejected: u64,
}

/// Builds a [`Bulkhead`].
#[must_use]
#[derive(Debug)]
pub struct BulkheadBuilder {
    name: String,
    config: BulkheadConfig,
}

impl BulkheadBuilder {
    /// Calls allowed at once.
    pub fn max_concurrent(mut self, n: u32) -> Self {
        self.config.max_concurrent = n;
        self
    }

    /// Calls allowed to wait for a slot.
    pub fn max_queue(mut self, n: u32) -> Self {
        self.config.max_queue = n;
        self
    }

    /// Longest wait in the queue.
    pub fn max_wait(mut self, d: Duration) -> Self {
        self.config.max_wait = Some(d);
        self
    }

    /// Checks the settings and builds the bulkhead.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid setting.
    pub fn build(self) -> Result<Bulkhead, ConfigError> {
        Bulkhead::from_config(self.name, &self.config)
    }
}

impl Bulkhead {
    /// A builder with the defaults of [`BulkheadConfig`].
    pub fn builder(name: impl Into<String>) -> BulkheadBuilder {
        BulkheadBuilder { name: name.into(), config: BulkheadConfig::default() }
    }

    /// A bulkhead from a configuration.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid setting.
    pub fn from_config(name: impl Into<String>, c: &BulkheadConfig) -> Result<Self, ConfigError> {
        c.validate()?;
        Ok(Self {
            inner: Arc::new(Inner {
                name: name.into().into(),
                in_flight: CachePadded::new(AtomicUsize::new(0)),
                waiting: AtomicUsize::new(0),
                max: usize::try_from(c.max_concurrent).unwrap_or(usize::MAX),
                max_queue: usize::try_from(c.max_queue).unwrap_or(usize::MAX),
                max_wait: c.max_wait,
                freed: Notify::new(),
                rejected: AtomicU64::new(0),
                rejected_counter: std::sync::OnceLock::new(),
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
                Ok(_) => return Some(BulkheadPermit { inner: inner.clone() }),
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
        self.inner
            .rejected_counter
            .get_or_init(|| metrics::counter!("perfstack_bulkhead_rejected_total", "name" => self.inner.name.clone()))
            .increment(1);
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
