//! The [`AdmissionController`]: rate limits, a concurrency limit with priority reserves,
//! overload signals and a deadline queue, checked in one call.

mod builder;
mod inner;
mod meta;
mod metrics;
mod permit;
mod queue;
mod rejected;
mod shares;
mod spare;
mod stats;
mod window;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

pub use builder::AdmissionControllerBuilder;
use inner::Inner;
pub use meta::RequestMeta;
pub use permit::{Outcome, Permit, PermitRef};
pub use queue::QueueOrder;
use queue::{Enqueue, Waiter};
pub use rejected::{RejectReason, Rejected};
pub use shares::PriorityShares;
pub use stats::{AdmissionStats, PriorityStats};

use crate::Priority;

/// Decides, before any work is done, whether a request may run.
///
/// A cheap `Arc` handle: every clone enforces the same limits.
///
/// # Examples
///
/// ```
/// use perfstack_admission::{AdmissionController, Priority, RequestMeta, RejectReason};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let ctl = AdmissionController::builder().fixed_limit(2).build()?;
/// let a = ctl.try_acquire(&RequestMeta::new(Priority::Critical))?;
/// let b = ctl.try_acquire(&RequestMeta::new(Priority::Critical))?;
/// let err = ctl.try_acquire(&RequestMeta::new(Priority::Critical)).unwrap_err();
/// assert_eq!(err.reason, RejectReason::Concurrency);
/// drop(a); // the work ended: the slot is free again
/// let _c = ctl.try_acquire(&RequestMeta::new(Priority::Critical))?;
/// # drop(b); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AdmissionController {
    inner: Arc<Inner>,
}

impl AdmissionController {
    /// A builder with the defaults: a [`Vegas`](crate::limit::Vegas) limit, default priority
    /// reserves, no rate limit, no queue.
    pub fn builder() -> AdmissionControllerBuilder {
        AdmissionControllerBuilder::default()
    }

    /// Admits the request now or refuses it now. No allocation when admitted.
    ///
    /// # Errors
    ///
    /// [`Rejected`] with the reason: `Deadline` (already past), `Rate`, `Overload` or
    /// `Concurrency`, with a retry hint for rate and concurrency.
    #[inline]
    pub fn try_acquire(&self, meta: &RequestMeta<'_>) -> Result<Permit, Rejected> {
        let r = self.admit(meta, false)?;
        Ok(self.owned(meta.priority, r))
    }

    #[inline]
    fn owned(&self, priority: Priority, r: inner::Released) -> Permit {
        Permit { inner: Some(spare::take_or_clone(&self.inner)), released: r, priority, armed: true }
    }

    /// [`try_acquire`](Self::try_acquire) with a permit that borrows the controller, for work
    /// that completes while `self` is borrowed. Costs the same as `try_acquire` when the owned
    /// permit drops on the thread that took it (it reuses a per-thread spare reference instead
    /// of touching the reference count); an owned permit dropped on another thread, or one of a
    /// controller with overload signals or a rate-limit store, pays the `Arc` clone and drop.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    #[inline]
    pub fn try_acquire_ref(&self, meta: &RequestMeta<'_>) -> Result<PermitRef<'_>, Rejected> {
        let released = self.admit(meta, false)?;
        Ok(PermitRef { controller: self, priority: meta.priority, released })
    }

    /// The admission decision. With `will_queue` (the caller waits in the queue when the
    /// concurrency limit is reached) a concurrency refusal is returned uncounted: the request
    /// is counted once, with its final outcome.
    #[inline]
    fn admit(&self, meta: &RequestMeta<'_>, will_queue: bool) -> Result<inner::Released, Rejected> {
        let inner = &self.inner;
        let p = meta.priority;
        if let Some(d) = meta.deadline {
            if d <= Instant::now() {
                return Err(inner.reject(RejectReason::Deadline, p, None));
            }
        }
        // Checks that consume nothing come first, then the slot, then the rate cell: a request
        // refused for overload or concurrency has spent no rate quota.
        if p.index() < inner.shed_levels.load(Ordering::Relaxed) && !inner.overload_lifted(p.index()) {
            return Err(inner.reject(RejectReason::Overload, p, Some(inner.window.max)));
        }
        let sampled = inner::sample_this(inner.sample_every);
        let Some(inflight) = inner.try_take_slot(p.index(), sampled) else {
            // About one request time from now a slot frees; unknown before the first window.
            // Lock-free: at overload most calls take this path, and must not contend with release().
            let retry = Some(inner.last_rtt()).filter(|d| !d.is_zero());
            if will_queue {
                return Err(Rejected::new(RejectReason::Concurrency, p, retry));
            }
            return Err(inner.reject(RejectReason::Concurrency, p, retry));
        };
        // Clock nanoseconds, 0 until read: the admitted path keeps the clock's own unit.
        let mut now = 0;
        if let Err(e) = self.take_rate(meta, &mut now) {
            Inner::return_slot(inner, p.index(), sampled);
            return Err(e);
        }
        if sampled {
            if now == 0 {
                now = inner.clock.now_nanos();
            }
            // Sampled admissions (which read the clock anyway) also re-read due signals, so
            // shedding starts even while no window closes (every admitted request still running).
            if !inner.signals.is_empty() {
                inner.refresh_overload_if_due(now);
            }
        }
        Ok(inner::Released { start: now, outcome: Outcome::Success, sampled, inflight_at_admit: inflight })
    }

    /// Consumes one cell of the rate limit and of the key's bucket, if configured; `now` is set
    /// when the clock was read for it.
    ///
    /// A request either limit refuses spends neither: the key's bucket is peeked first, so a
    /// tenant over its own limit does not spend the global cells other tenants need; then the
    /// global cell is taken, then the key's. Only a race (another request of the same key
    /// takes its last cell between the peek and the take) spends a global cell for nothing.
    /// The distributed store is asked after this: a request it refuses has spent its local
    /// cells.
    #[inline]
    fn take_rate(&self, meta: &RequestMeta<'_>, now: &mut u64) -> Result<(), Rejected> {
        let inner = &self.inner;
        let p = meta.priority;
        let keyed = inner.keyed.as_ref().zip(meta.key);
        if let (Some((keyed, key)), Some(_)) = (keyed, &inner.rate) {
            keyed.peek(key).map_err(|e| inner.reject(RejectReason::Rate, p, Some(e.retry_after)))?;
        }
        if let Some(rate) = &inner.rate {
            let checked = if inner.rate_shares_clock {
                *now = inner.clock.now_nanos();
                rate.check_at(*now)
            } else {
                rate.check()
            };
            checked.map_err(|e| inner.reject(RejectReason::Rate, p, Some(e.retry_after)))?;
        }
        if let Some((keyed, key)) = keyed {
            keyed.check(key).map_err(|e| inner.reject(RejectReason::Rate, p, Some(e.retry_after)))?;
        }
        Ok(())
    }

    /// Whether the rate limits would admit the request now, consuming nothing: a request they
    /// would refuse does not wait in the queue for a slot it could not use.
    fn peek_rate(&self, meta: &RequestMeta<'_>) -> Result<(), Rejected> {
        let inner = &self.inner;
        let p = meta.priority;
        if let Some(rate) = &inner.rate {
            rate.peek().map_err(|e| inner.reject(RejectReason::Rate, p, Some(e.retry_after)))?;
        }
        if let (Some(keyed), Some(key)) = (&inner.keyed, meta.key) {
            keyed.peek(key).map_err(|e| inner.reject(RejectReason::Rate, p, Some(e.retry_after)))?;
        }
        Ok(())
    }

    /// Gives a permit's slot back without a latency sample (its request was refused after the
    /// slot was taken); a waiter in the queue gets the slot.
    fn revoke(&self, mut permit: Permit) {
        permit.armed = false;
        // A sampled admission counted itself in `admitted_sampled`: take it back.
        Inner::return_slot(&self.inner, permit.priority.index(), permit.released.sampled);
    }

    /// The last step of an admission that holds a slot: the rate cell (unless already taken)
    /// and the distributed store. Either refusing gives the slot back.
    async fn finish(&self, meta: &RequestMeta<'_>, mut permit: Permit, rate_taken: bool) -> Result<Permit, Rejected> {
        if !rate_taken {
            if let Err(e) = self.take_rate(meta, &mut 0) {
                self.revoke(permit);
                return Err(e);
            }
        }
        if self.inner.store.is_none() {
            return Ok(permit);
        }
        // No sample if the caller gives up while the store answers: the drop frees the slot.
        let outcome = std::mem::replace(&mut permit.released.outcome, Outcome::Ignore);
        let checked = match meta.deadline {
            // The store is I/O: a request whose deadline passes while it answers is refused
            // then, not admitted to run late.
            Some(deadline) => match tokio::time::timeout_at(deadline, self.check_store(meta)).await {
                Ok(Ok(())) if deadline <= Instant::now() => {
                    Err(self.inner.reject(RejectReason::Deadline, meta.priority, None))
                }
                Ok(checked) => checked,
                Err(_elapsed) => Err(self.inner.reject(RejectReason::Deadline, meta.priority, None)),
            },
            None => self.check_store(meta).await,
        };
        match checked {
            Ok(()) => {
                permit.released.outcome = outcome;
                if permit.released.sampled {
                    permit.released.start = self.inner.clock.now_nanos(); // the store's delay is not the work's
                }
                Ok(permit)
            }
            Err(e) => {
                self.revoke(permit);
                Err(e)
            }
        }
    }

    /// Admits the request, waiting in the bounded priority queue when the concurrency limit is
    /// reached, until the request's deadline or the queue timeout, whichever is first. A
    /// request whose deadline passes while it waits is dropped before doing any work.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire), plus `QueueFull` (no room, or evicted by a more
    /// important request) and `Deadline` (the wait ran out).
    pub async fn acquire(&self, meta: &RequestMeta<'_>) -> Result<Permit, Rejected> {
        let inner = &self.inner;
        let p = meta.priority;
        let will_queue = inner.queue_timeout > Duration::ZERO;
        match self.admit(meta, will_queue) {
            Ok(r) => return self.finish(meta, self.owned(p, r), true).await,
            Err(r) if r.reason == RejectReason::Concurrency && will_queue => {}
            Err(r) => return Err(r),
        }
        self.peek_rate(meta)?;
        let tokio_now = Instant::now();
        // Bounded by build() (at most a day), so this cannot overflow.
        let mut until = tokio_now + inner.queue_timeout;
        if let Some(d) = meta.deadline {
            until = until.min(d);
        }
        let (tx, rx) = oneshot::channel();
        let evicted = 'locked: {
            let mut core = inner.core.lock();
            if core.queue.capacity == 0 {
                drop(core);
                return Err(inner.reject(RejectReason::QueueFull, p, None));
            }
            if let Some(inflight) = inner.try_take_slot(p.index(), inner::sample_this(inner.sample_every)) {
                break 'locked Err(inflight);
            }
            let evicted = match core.queue.push(p, Waiter { tx, until }, tokio_now) {
                Enqueue::Queued => None,
                Enqueue::Full => {
                    drop(core);
                    return Err(inner.reject(RejectReason::QueueFull, p, None));
                }
                Enqueue::Evicted(w, level) => Some((w, level, inner.last_rtt())),
            };
            inner.queued.store(core.queue.len(), Ordering::SeqCst);
            // A release that ran between our slot check and the store above saw an empty queue:
            // look again, so no slot stays free while we wait. SeqCst on both sides (our store
            // of `queued` then load of `slots`; release's `fetch_sub` of `slots` then load of
            // `queued`): at least one of the two sees the other's write. A relaxed load here
            // could read a stale count on weak memory while release read `queued` as 0: a
            // free slot and a waiter left waiting.
            let inflight = inner.inflight_seqcst();
            if inflight < inner.caps[p.index()].load(Ordering::Relaxed) || inflight == 0 {
                Inner::hand_off(inner, &mut core, inner.clock.now_nanos());
            }
            Ok(evicted)
        };
        let evicted = match evicted {
            Ok(evicted) => evicted,
            // A slot freed since admit() looked: take it without waiting.
            Err(inflight) => {
                let released = inner::Released {
                    start: inner.clock.now_nanos(),
                    outcome: Outcome::Success,
                    sampled: true,
                    inflight_at_admit: inflight,
                };
                let permit = Permit { inner: Some(Arc::clone(inner)), released, priority: p, armed: true };
                return self.finish(meta, permit, false).await;
            }
        };
        if let Some((w, level, retry)) = evicted {
            let _ = w.tx.send(Err(inner.reject(RejectReason::QueueFull, level, Some(retry))));
        }
        tokio::select! {
            biased;
            got = rx => match got {
                Ok(Ok(mut permit)) => {
                    permit.released.outcome = Outcome::Success;
                    permit.released.start = inner.clock.now_nanos();
                    self.finish(meta, permit, false).await
                }
                Ok(Err(rejected)) => Err(rejected),
                Err(_) => Err(inner.reject(RejectReason::Deadline, p, None)),
            },
            () = tokio::time::sleep_until(until) => Err(inner.reject(RejectReason::Deadline, p, None)),
        }
    }

    /// Like [`try_acquire`](Self::try_acquire) (never waits in the queue), but also checks the
    /// distributed [`RateLimitStore`](crate::rate::RateLimitStore), if one is configured.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire); a store that refuses gives `Rate` (over the limit)
    /// or `Overload` (unreachable and failing closed).
    pub async fn acquire_now(&self, meta: &RequestMeta<'_>) -> Result<Permit, Rejected> {
        let permit = self.try_acquire(meta)?;
        self.finish(meta, permit, true).await
    }

    async fn check_store(&self, meta: &RequestMeta<'_>) -> Result<(), Rejected> {
        let Some(store) = &self.inner.store else { return Ok(()) };
        match store.check(meta.key).await {
            Ok(()) => Ok(()),
            Err(crate::rate::StoreRefusal::Limited(d)) => {
                Err(self.inner.reject(RejectReason::Rate, meta.priority, Some(d)))
            }
            Err(_) => {
                Err(self.inner.reject(RejectReason::Overload, meta.priority, Some(std::time::Duration::from_secs(1))))
            }
        }
    }

    /// [`acquire`](Self::acquire)'s first step without waiting, for a caller that boxes the
    /// wait only when there is one: the permit when admitted at once, `Err(None)` when the
    /// request should wait in the queue (its concurrency refusal not counted: `acquire`
    /// counts it once, with its final outcome), `Err(Some(_))` when refused outright. Only
    /// for controllers without a distributed store (that needs I/O).
    #[cfg(feature = "tower")]
    pub(crate) fn try_acquire_before_queue(&self, meta: &RequestMeta<'_>) -> Result<Permit, Option<Rejected>> {
        debug_assert!(self.inner.store.is_none());
        let will_queue = self.inner.queue_timeout > Duration::ZERO;
        match self.admit(meta, will_queue) {
            Ok(r) => Ok(self.owned(meta.priority, r)),
            Err(r) if will_queue && r.reason == RejectReason::Concurrency => Err(None),
            Err(r) => Err(Some(r)),
        }
    }

    /// True when a distributed rate limit must be asked (I/O) before admitting.
    #[cfg(feature = "tower")]
    pub(crate) fn has_store(&self) -> bool {
        self.inner.store.is_some()
    }

    /// True when admission is decided at once: no distributed rate limit to ask, and no queue
    /// to wait in (none configured, or `queue` is false: the caller will not wait).
    #[cfg(feature = "tower")]
    pub(crate) fn never_waits(&self, queue: bool) -> bool {
        self.inner.store.is_none() && (!queue || self.inner.queue_timeout.is_zero())
    }

    /// The current concurrency limit.
    #[must_use]
    pub fn limit(&self) -> usize {
        self.inner.limit_now.load(Ordering::Relaxed)
    }

    /// Requests in flight now.
    #[must_use]
    pub fn inflight(&self) -> usize {
        self.inner.inflight()
    }

    /// Reads the overload signals now and returns how many priority levels are shed. They are
    /// also read at every window close, and by an admission (a refused one of a shed level, or
    /// a sampled one) when the last reading is a shortest window (`window` `min`) old.
    pub fn refresh_overload(&self) -> usize {
        self.inner.refresh_overload()
    }

    /// A snapshot for dashboards and tests.
    #[must_use]
    pub fn stats(&self) -> AdmissionStats {
        let inner = &self.inner;
        let core = inner.core.lock();
        let priorities = Priority::ALL
            .iter()
            .map(|&p| PriorityStats {
                priority: p,
                cap: inner.caps[p.index()].load(Ordering::Relaxed),
                admitted_estimate: inner.admitted_sampled[p.index()]
                    .load(Ordering::Relaxed)
                    .saturating_mul(u64::from(inner.sample_every)),
                rejected: RejectReason::ALL
                    .iter()
                    .map(|r| (r.as_str(), inner.rejected[r.index()][p.index()].load(Ordering::Relaxed)))
                    .collect::<BTreeMap<_, _>>(),
            })
            .collect();
        AdmissionStats {
            name: inner.name.clone(),
            algorithm: core.limit.name(),
            limit: inner.limit_now.load(Ordering::Relaxed),
            inflight: inner.inflight(),
            admitted_total: inner.admitted_total(),
            queued: core.queue.len(),
            windows: core.windows,
            last_rtt_seconds: inner.last_rtt().as_secs_f64(),
            overload_shed_levels: inner.shed_levels.load(Ordering::Relaxed),
            priorities,
        }
    }
}
