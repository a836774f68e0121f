use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::queue::WaitQueue;
use super::window::{Window, WindowPolicy};
use super::{Outcome, Permit, PriorityShares, RejectReason, Rejected};
use crate::clock::Clock;
use crate::limit::{Limit, Sample};
use crate::overload::OverloadSignal;
use crate::rate::{KeyedRateLimit, RateLimit};
use crate::Priority;

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

/// Shared state of a controller; every clone of the handle points here.
///
/// The admitted path touches only atomics (`slots`, `caps`); the lock guards the
/// limit algorithm, the window aggregate and the queue, and is taken by sampled releases and
/// by the queue.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) name: String,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rate: Option<RateLimit>,
    /// The rate limit reads the controller's clock, so one reading serves both.
    pub(crate) rate_shares_clock: bool,
    pub(crate) keyed: Option<KeyedRateLimit>,
    pub(crate) store: Option<Arc<dyn crate::rate::RateLimitStore>>,
    pub(crate) shares: PriorityShares,
    pub(crate) window: WindowPolicy,
    pub(crate) sample_every: u32,
    pub(crate) queue_timeout: Duration,
    pub(crate) signals: Vec<Arc<dyn OverloadSignal>>,
    /// Levels below this index are shed by overload signals.
    pub(crate) shed_levels: AtomicUsize,
    /// When the signals were last read (clock nanoseconds): admissions read them again once
    /// this is a shortest window old, so shedding lifts even when no admitted traffic closes
    /// windows (every request of the shed levels refused).
    pub(crate) overload_read_at: AtomicU64,
    /// In flight (low 24 bits) and admitted so far (high 40 bits), in one word so that one
    /// atomic operation admits and counts.
    pub(crate) slots: AtomicU64,
    pub(crate) caps: [AtomicUsize; 5],
    pub(crate) limit_now: AtomicUsize,
    pub(crate) queued: AtomicUsize,
    /// Admissions counted for one in `sample_every` (per priority), for the stats estimate.
    pub(crate) admitted_sampled: [AtomicU64; 5],
    /// Rejections, `[reason][priority]`.
    pub(crate) rejected: [[AtomicU64; 5]; 5],
    /// Mean latency of the last closed window in nanoseconds (0 before the first): the
    /// Retry-After of a concurrency refusal, read without the lock.
    pub(crate) last_rtt_nanos: AtomicU64,
    pub(crate) metrics: super::metrics::Handles,
    /// Whether a dropped owned permit may leave its reference as the thread's spare: only when
    /// the controller owns no overload signal and no rate-limit store, which may run background
    /// tasks or hold connections that a spare would keep alive after the last handle is gone.
    pub(crate) keeps_spare: bool,
    pub(crate) core: Mutex<Core>,
}

/// What changes once per sample or per control window, behind one lock.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) limit: Box<dyn Limit>,
    pub(crate) window: Window,
    pub(crate) queue: WaitQueue,
    pub(crate) windows: u64,
}

/// What a permit reports when it drops.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Released {
    /// Clock nanoseconds at admission (sampled permits only).
    pub(crate) start: u64,
    pub(crate) outcome: Outcome,
    pub(crate) sampled: bool,
    pub(crate) inflight_at_admit: usize,
}

/// Most requests in flight at once (the in-flight part of `slots`).
pub(crate) const MAX_INFLIGHT: usize = (1 << 24) - 1;
const ONE: u64 = 1;
const ONE_ADMITTED: u64 = 1 << 24;

fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Inner {
    pub(crate) fn set_limit(&self, limit: usize) {
        let limit = limit.clamp(1, MAX_INFLIGHT);
        self.limit_now.store(limit, Ordering::Relaxed);
        for (cap, v) in self.caps.iter().zip(self.shares.caps(limit)) {
            cap.store(v, Ordering::Relaxed);
        }
    }

    /// Mean latency of the last closed window; zero before the first.
    #[inline]
    pub(crate) fn last_rtt(&self) -> Duration {
        Duration::from_nanos(self.last_rtt_nanos.load(Ordering::Relaxed))
    }

    /// Requests in flight now.
    #[inline]
    pub(crate) fn inflight(&self) -> usize {
        (self.slots.load(Ordering::Relaxed) & (ONE_ADMITTED - 1)) as usize
    }

    /// Requests in flight now, read in the single total order of `SeqCst` operations: for a
    /// check that must see every release that ran before its own `SeqCst` store.
    #[inline]
    pub(crate) fn inflight_seqcst(&self) -> usize {
        (self.slots.load(Ordering::SeqCst) & (ONE_ADMITTED - 1)) as usize
    }

    /// Requests admitted so far.
    pub(crate) fn admitted_total(&self) -> u64 {
        self.slots.load(Ordering::Relaxed) >> 24
    }

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

    #[cold]
    #[inline(never)]
    pub(crate) fn reject(&self, reason: RejectReason, priority: Priority, retry_after: Option<Duration>) -> Rejected {
        self.metrics.rejected[reason.index()][priority.index()].increment(1);
        self.rejected[reason.index()][priority.index()].fetch_add(1, Ordering::Relaxed);
        Rejected::new(reason, priority, retry_after)
    }

    /// Frees a slot; a sampled permit also feeds the window (and may close it); hands the slot
    /// to a waiter when the queue is not empty. The common case (not sampled, no waiter) is one
    /// atomic subtraction and one load, inlined into the permit's drop.
    #[inline]
    pub(crate) fn release(this: &Arc<Inner>, p: &Released) {
        this.slots.fetch_sub(ONE, Ordering::SeqCst);
        // A drop is a signal even when the latency was not measured.
        if !p.sampled && p.outcome != Outcome::Dropped && this.queued.load(Ordering::SeqCst) == 0 {
            return;
        }
        Self::release_slow(this, p);
    }

    /// The sampled, dropped or queue-serving part of [`release`](Self::release).
    #[inline(never)]
    fn release_slow(this: &Arc<Inner>, p: &Released) {
        let sample = p.sampled && p.outcome != Outcome::Ignore;
        let drop_only = !p.sampled && p.outcome == Outcome::Dropped;
        if !sample && !drop_only && this.queued.load(Ordering::SeqCst) == 0 {
            return;
        }
        let now_ns = this.clock.now_nanos();
        let now = Duration::from_nanos(now_ns);
        let mut closed: Option<(Sample, usize)> = None;
        {
            let mut core = this.core.lock();
            if drop_only {
                core.window.add_drop();
            }
            if sample {
                core.window.add(Duration::from_nanos(now_ns.saturating_sub(p.start)), p.outcome == Outcome::Dropped);
                core.window.saw_inflight(p.inflight_at_admit);
                if let Some(s) = core.window.close_if_due(now, &this.window) {
                    let new = core.limit.update(&s);
                    this.set_limit(new);
                    core.window = Window::new(now, this.inflight());
                    core.windows += 1;
                    this.last_rtt_nanos.store(u64::try_from(s.rtt.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
                    closed = Some((s, this.limit_now.load(Ordering::Relaxed)));
                }
            }
            if this.queued.load(Ordering::SeqCst) > 0 {
                Self::hand_off(this, &mut core, now_ns);
            }
        }
        if let Some((s, limit)) = closed {
            this.window_closed(&s, limit, now_ns);
        }
    }

    /// Gives free slots to the most important waiters that are still waiting. Called with the
    /// lock held.
    pub(crate) fn hand_off(this: &Arc<Inner>, core: &mut Core, now: u64) {
        let tokio_now = tokio::time::Instant::now();
        let shed = this.shed_levels.load(Ordering::Relaxed);
        while let Some(level) = core.queue.top_level() {
            if level.index() < shed {
                break;
            }
            let Some(inflight) = this.try_take_slot(level.index(), sample_this(this.sample_every)) else { break };
            let Some(w) = core.queue.pop(level) else {
                this.give_back(level);
                break;
            };
            if w.until <= tokio_now || w.tx.is_closed() {
                this.give_back(level); // its own timer reports the deadline
                continue;
            }
            // Ignore until the waiter takes it, so a permit lost in the channel is no sample.
            let released =
                Released { start: now, outcome: Outcome::Ignore, sampled: true, inflight_at_admit: inflight };
            let permit = Permit { inner: Some(Arc::clone(this)), released, priority: level, armed: true };
            if let Err(Ok(mut lost)) = w.tx.send(Ok(permit)) {
                lost.armed = false;
                this.give_back(level);
            }
        }
        this.queued.store(core.queue.len(), Ordering::SeqCst);
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

    /// Undoes a slot taken for a waiter that is gone (the count may keep one sampled extra).
    fn give_back(&self, _level: Priority) {
        self.slots.fetch_sub(ONE + ONE_ADMITTED, Ordering::SeqCst);
    }

    fn window_closed(&self, sample: &Sample, limit: usize, now: u64) {
        let inflight = self.inflight();
        self.metrics.limit.set(limit as f64);
        self.metrics.inflight.set(inflight as f64);
        self.metrics.rtt.record(sample.rtt.as_secs_f64());
        tracing::trace!(controller = %self.name, limit, rtt = ?sample.rtt, min_rtt = ?sample.min_rtt, "admission window closed");
        // On the admissions' schedule (`overload_read_at`), not on top of it: a sampled
        // admission may have read the signals a moment ago.
        if !self.signals.is_empty() {
            self.refresh_overload_if_due(now);
        }
    }

    /// Reads the overload signals again if the last reading is at least a shortest window
    /// (`window.min`) old at `now`; only the caller that wins the compare-exchange reads them.
    /// Returns whether it read them.
    #[inline]
    pub(crate) fn refresh_overload_if_due(&self, now: u64) -> bool {
        let last = self.overload_read_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) < duration_nanos(self.window.min) {
            return false;
        }
        if self.overload_read_at.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err() {
            return false; // another caller is reading them
        }
        self.read_signals();
        true
    }

    /// Whether `level`, shed at the last reading, is admitted after reading the signals again
    /// (if that reading is due). The overload-refusal path: without it, a controller whose
    /// shed levels are all its traffic would never close a window and never lift shedding.
    #[cold]
    #[inline(never)]
    pub(crate) fn overload_lifted(&self, level: usize) -> bool {
        !self.signals.is_empty()
            && self.refresh_overload_if_due(self.clock.now_nanos())
            && level >= self.shed_levels.load(Ordering::Relaxed)
    }

    /// Reads every overload signal now (and restarts the refresh interval).
    pub(crate) fn refresh_overload(&self) -> usize {
        self.overload_read_at.fetch_max(self.clock.now_nanos(), Ordering::Relaxed);
        self.read_signals()
    }

    /// Reads every overload signal and sets how many levels to shed: none below pressure 1,
    /// then one more level for every 10 % above it; `Critical` is never shed by a signal.
    #[inline(never)]
    fn read_signals(&self) -> usize {
        // NaN says nothing and is skipped; +inf is fully overloaded; below 0 counts as 0.
        let pressure = self.signals.iter().map(|s| s.pressure()).filter(|p| !p.is_nan()).fold(0.0_f64, f64::max);
        // Capped before the cast: a huge or infinite pressure sheds every level but Critical.
        let shed = if pressure < 1.0 { 0 } else { 1 + ((pressure - 1.0) / 0.1).min(3.0) as usize };
        let before = self.shed_levels.swap(shed, Ordering::Relaxed);
        if before != shed {
            tracing::info!(controller = %self.name, pressure, shed_levels = shed, "overload shedding changed");
            self.metrics.shed_levels.set(shed as f64);
        }
        shed
    }
}
