//! A request's end: its permit drops, the slot is freed, a sampled latency feeds the control
//! window (which may close and update the limit), and a freed slot goes to the most important
//! waiter in the queue.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::decision::sample_this;
use super::inner::{Core, Inner, Released, ONE, ONE_ADMITTED};
use super::window::Window;
use super::{Outcome, Permit};
use crate::limit::Sample;
use crate::Priority;

impl Inner {
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
}
