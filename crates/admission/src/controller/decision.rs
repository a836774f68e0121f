//! The admission decision, in the order a request meets it: the entry points
//! (`try_acquire`, `try_acquire_ref`, `acquire_now`, `acquire`), then `admit` (deadline,
//! overload shedding, the priority's concurrency cap, the rate limits), the wait in the queue
//! (in `acquire`), `finish` (the distributed store), and what a refusal does: the slot given
//! back (`revoke`, `return_slot`) and the refusal counted (`reject`). How an admitted request
//! ends is in `release.rs`.

use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::inner::{Inner, Released, ONE, ONE_ADMITTED};
use super::queue::{Enqueue, Waiter};
use super::{spare, AdmissionController, Outcome, Permit, PermitRef, RejectReason, Rejected, RequestMeta};
use crate::Priority;

impl AdmissionController {
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
            if let Some(inflight) = inner.try_take_slot(p.index(), sample_this(inner.sample_every)) {
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
                let released = Released {
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

    #[inline]
    fn owned(&self, priority: Priority, r: Released) -> Permit {
        Permit { inner: Some(spare::take_or_clone(&self.inner)), released: r, priority, armed: true }
    }

    /// The admission decision. With `will_queue` (the caller waits in the queue when the
    /// concurrency limit is reached) a concurrency refusal is returned uncounted: the request
    /// is counted once, with its final outcome.
    #[inline]
    fn admit(&self, meta: &RequestMeta<'_>, will_queue: bool) -> Result<Released, Rejected> {
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
        let sampled = sample_this(inner.sample_every);
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
        Ok(Released { start: now, outcome: Outcome::Success, sampled, inflight_at_admit: inflight })
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

    /// Asks the distributed store, if one is configured: over its limit is a `Rate` refusal,
    /// unreachable and failing closed an `Overload` one.
    async fn check_store(&self, meta: &RequestMeta<'_>) -> Result<(), Rejected> {
        let Some(store) = &self.inner.store else { return Ok(()) };
        match store.check(meta.key).await {
            Ok(()) => Ok(()),
            Err(crate::rate::StoreRefusal::Limited(d)) => {
                Err(self.inner.reject(RejectReason::Rate, meta.priority, Some(d)))
            }
            Err(_) => Err(self.inner.reject(RejectReason::Overload, meta.priority, Some(Duration::from_secs(1)))),
        }
    }

    /// Gives a permit's slot back without a latency sample (its request was refused after the
    /// slot was taken); a waiter in the queue gets the slot.
    fn revoke(&self, mut permit: Permit) {
        permit.armed = false;
        // A sampled admission counted itself in `admitted_sampled`: take it back.
        Inner::return_slot(&self.inner, permit.priority.index(), permit.released.sampled);
    }
}

impl Inner {
    /// Takes one slot if `level` is under its cap; returns the new in-flight count.
    #[inline]
    pub(crate) fn try_take_slot(&self, level: usize, counted: bool) -> Option<usize> {
        let cap = self.caps[level].load(Ordering::Relaxed) as u64;
        let mut cur = self.slots.load(Ordering::Relaxed);
        loop {
            let inflight = cur & (ONE_ADMITTED - 1);
            // Work-conserving: a level whose cap is 0 (a limit too small for the reserves above
            // it) still runs when nothing else does. Otherwise an adaptive limit that fell to 1
            // under traffic of lower levels only would refuse everything, receive no latency
            // sample, and never rise again.
            if inflight >= cap && (cap > 0 || inflight > 0) {
                return None;
            }
            match self.slots.compare_exchange_weak(cur, cur + ONE + ONE_ADMITTED, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => {
                    if counted {
                        self.admitted_sampled[level].fetch_add(1, Ordering::Relaxed);
                    }
                    return Some(inflight as usize + 1);
                }
                Err(c) => cur = c,
            }
        }
    }

    /// Gives back a slot taken by a request refused afterwards (by a rate limit or the store):
    /// it was never admitted, and a waiter in the queue gets the slot, as at a release.
    #[cold]
    #[inline(never)]
    pub(crate) fn return_slot(this: &Arc<Inner>, level: usize, counted: bool) {
        if counted {
            this.admitted_sampled[level].fetch_sub(1, Ordering::Relaxed);
        }
        this.slots.fetch_sub(ONE + ONE_ADMITTED, Ordering::SeqCst);
        if this.queued.load(Ordering::SeqCst) > 0 {
            let now = this.clock.now_nanos();
            let mut core = this.core.lock();
            Self::hand_off(this, &mut core, now);
        }
    }

    /// Counts a refusal (metric and stats) and builds it.
    #[cold]
    #[inline(never)]
    pub(crate) fn reject(&self, reason: RejectReason, priority: Priority, retry_after: Option<Duration>) -> Rejected {
        self.metrics.rejected[reason.index()][priority.index()].increment(1);
        self.rejected[reason.index()][priority.index()].fetch_add(1, Ordering::Relaxed);
        Rejected::new(reason, priority, retry_after)
    }
}

thread_local! {
    /// Admissions on this thread until the next sampled one.
    static UNTIL_SAMPLE: Cell<u32> = const { Cell::new(0) };
}

/// True for one admission in `every` on this thread: only those read the clock twice and
/// feed the limit, which keeps the admitted path to a few atomic operations. A countdown, not
/// a remainder: no division on the admitted path.
#[inline]
pub(crate) fn sample_this(every: u32) -> bool {
    UNTIL_SAMPLE.with(|c| match c.get() {
        0 => {
            c.set(every.saturating_sub(1));
            true
        }
        n => {
            c.set(n - 1);
            false
        }
    })
}
