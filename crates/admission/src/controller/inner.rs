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
    static ADMISSIONS: Cell<u32> = const { Cell::new(0) };
}

/// True for every `every`-th admission on this thread: only those read the clock twice and
/// feed the limit, which keeps the admitted path to a few atomic operations.
#[inline]
pub(crate) fn sample_this(every: u32) -> bool {
    ADMISSIONS.with(|c| {
        let n = c.get().wrapping_add(1);
        c.set(n);
        n % every == 0
    })
}

/// Shared state of a controller; every clone of the handle points here.
///
/// The admitted path touches only atomics (`inflight`, `caps`, `admitted`); the lock guards the
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
    pub(crate) shares: PriorityShares,
    pub(crate) window: WindowPolicy,
    pub(crate) sample_every: u32,
    pub(crate) queue_timeout: Duration,
    pub(crate) signals: Vec<Arc<dyn OverloadSignal>>,
    /// Levels below this index are shed by overload signals.
    pub(crate) shed_levels: AtomicUsize,
    pub(crate) inflight: AtomicUsize,
    pub(crate) caps: [AtomicUsize; 5],
    pub(crate) limit_now: AtomicUsize,
    pub(crate) queued: AtomicUsize,
    pub(crate) admitted: [AtomicU64; 5],
    /// Rejections, `[reason][priority]`.
    pub(crate) rejected: [[AtomicU64; 5]; 5],
    pub(crate) core: Mutex<Core>,
}

/// What changes once per sample or per control window, behind one lock.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) limit: Box<dyn Limit>,
    pub(crate) window: Window,
    pub(crate) queue: WaitQueue,
    pub(crate) windows: u64,
    pub(crate) last_rtt: Duration,
}

pub(crate) fn priority_label(p: Priority) -> &'static str {
    ["low", "normal", "high", "urgent", "critical"][p.index()]
}

impl Inner {
    pub(crate) fn set_limit(&self, limit: usize) {
        let limit = limit.max(1);
        self.limit_now.store(limit, Ordering::Relaxed);
        for (cap, v) in self.caps.iter().zip(self.shares.caps(limit)) {
            cap.store(v, Ordering::Relaxed);
        }
    }

    /// Takes one slot if `level` is under its cap; returns the new in-flight count.
    #[inline]
    pub(crate) fn try_take_slot(&self, level: usize) -> Option<usize> {
        let cap = self.caps[level].load(Ordering::Relaxed);
        let mut cur = self.inflight.load(Ordering::Relaxed);
        loop {
            if cur >= cap {
                return None;
            }
            match self.inflight.compare_exchange_weak(cur, cur + 1, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => {
                    self.admitted[level].fetch_add(1, Ordering::Relaxed);
                    return Some(cur + 1);
                }
                Err(c) => cur = c,
            }
        }
    }

    pub(crate) fn reject(&self, reason: RejectReason, priority: Priority, retry_after: Option<Duration>) -> Rejected {
        metrics::counter!("perfstack_admission_rejected_total", "controller" => self.name.clone(),
            "reason" => reason.as_str(), "priority" => priority_label(priority))
        .increment(1);
        self.rejected[reason.index()][priority.index()].fetch_add(1, Ordering::Relaxed);
        Rejected::new(reason, priority, retry_after)
    }

    /// Frees a slot; a sampled permit also feeds the window (and may close it); hands the slot
    /// to a waiter when the queue is not empty.
    pub(crate) fn release(this: &Arc<Inner>, p: &Permit) {
        this.inflight.fetch_sub(1, Ordering::SeqCst);
        let sample = p.sampled && p.outcome != Outcome::Ignore;
        // A drop is a signal even when the latency was not measured.
        let drop_only = !p.sampled && p.outcome == Outcome::Dropped;
        if !sample && !drop_only && this.queued.load(Ordering::SeqCst) == 0 {
            return;
        }
        let now = this.clock.now();
        let mut closed: Option<(Sample, usize)> = None;
        {
            let mut core = this.core.lock();
            if drop_only {
                core.window.add_drop();
            }
            if sample {
                core.window.add(now.saturating_sub(p.start), p.outcome == Outcome::Dropped);
                core.window.saw_inflight(p.inflight_at_admit);
                if let Some(s) = core.window.close_if_due(now, &this.window) {
                    let new = core.limit.update(&s);
                    this.set_limit(new);
                    core.window = Window::new(now, this.inflight.load(Ordering::Relaxed));
                    core.windows += 1;
                    core.last_rtt = s.rtt;
                    closed = Some((s, this.limit_now.load(Ordering::Relaxed)));
                }
            }
            if this.queued.load(Ordering::SeqCst) > 0 {
                Self::hand_off(this, &mut core, now);
            }
        }
        if let Some((s, limit)) = closed {
            this.window_closed(&s, limit);
        }
    }

    /// Gives free slots to the most important waiters that are still waiting. Called with the
    /// lock held.
    pub(crate) fn hand_off(this: &Arc<Inner>, core: &mut Core, now: Duration) {
        let tokio_now = tokio::time::Instant::now();
        let shed = this.shed_levels.load(Ordering::Relaxed);
        while let Some(level) = core.queue.top_level() {
            if level.index() < shed {
                break;
            }
            let Some(inflight) = this.try_take_slot(level.index()) else { break };
            let Some(w) = core.queue.pop(level) else {
                this.give_back(level);
                break;
            };
            if w.until <= tokio_now || w.tx.is_closed() {
                this.give_back(level); // its own timer reports the deadline
                continue;
            }
            // Ignore until the waiter takes it, so a permit lost in the channel is no sample.
            let permit = Permit {
                inner: Arc::clone(this),
                start: now,
                priority: level,
                outcome: Outcome::Ignore,
                armed: true,
                sampled: true,
                inflight_at_admit: inflight,
            };
            if let Err(Ok(mut lost)) = w.tx.send(Ok(permit)) {
                lost.armed = false;
                this.give_back(level);
            }
        }
        this.queued.store(core.queue.len(), Ordering::SeqCst);
    }

    fn give_back(&self, level: Priority) {
        self.inflight.fetch_sub(1, Ordering::SeqCst);
        self.admitted[level.index()].fetch_sub(1, Ordering::Relaxed);
    }

    fn window_closed(&self, sample: &Sample, limit: usize) {
        let inflight = self.inflight.load(Ordering::Relaxed);
        metrics::gauge!("perfstack_admission_limit", "controller" => self.name.clone()).set(limit as f64);
        metrics::gauge!("perfstack_admission_inflight", "controller" => self.name.clone()).set(inflight as f64);
        metrics::histogram!("perfstack_admission_rtt_seconds", "controller" => self.name.clone())
            .record(sample.rtt.as_secs_f64());
        tracing::trace!(controller = %self.name, limit, rtt = ?sample.rtt, min_rtt = ?sample.min_rtt, "admission window closed");
        if !self.signals.is_empty() {
            self.refresh_overload();
        }
    }

    /// Reads every overload signal and sets how many levels to shed: none below pressure 1,
    /// then one more level for every 10 % above it; `Critical` is never shed by a signal.
    pub(crate) fn refresh_overload(&self) -> usize {
        let pressure = self.signals.iter().map(|s| s.pressure()).filter(|p| p.is_finite()).fold(0.0_f64, f64::max);
        let shed = if pressure < 1.0 { 0 } else { (1 + ((pressure - 1.0) / 0.1) as usize).min(4) };
        let before = self.shed_levels.swap(shed, Ordering::Relaxed);
        if before != shed {
            tracing::info!(controller = %self.name, pressure, shed_levels = shed, "overload shedding changed");
            metrics::gauge!("perfstack_admission_overload_shed_levels", "controller" => self.name.clone())
                .set(shed as f64);
        }
        shed
    }
}
