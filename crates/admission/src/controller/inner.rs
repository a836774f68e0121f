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

/// Shared state of a controller; every clone of the handle points here.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) name: String,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rate: Option<RateLimit>,
    pub(crate) keyed: Option<KeyedRateLimit>,
    pub(crate) shares: PriorityShares,
    pub(crate) window: WindowPolicy,
    pub(crate) queue_timeout: Duration,
    pub(crate) signals: Vec<Arc<dyn OverloadSignal>>,
    /// Levels below this index are shed by overload signals.
    pub(crate) shed_levels: AtomicUsize,
    /// Rejections, `[reason][priority]`.
    pub(crate) rejected: [[AtomicU64; 5]; 5],
    pub(crate) core: Mutex<Core>,
}

/// Everything that changes per request, behind one short lock.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) limit: Box<dyn Limit>,
    pub(crate) limit_now: usize,
    pub(crate) caps: [usize; 5],
    pub(crate) inflight: usize,
    pub(crate) window: Window,
    pub(crate) queue: WaitQueue,
    pub(crate) admitted: [u64; 5],
    pub(crate) windows: u64,
    pub(crate) last_rtt: Duration,
}

impl Core {
    pub(crate) fn set_limit(&mut self, limit: usize, shares: &PriorityShares) {
        self.limit_now = limit.max(1);
        self.caps = shares.caps(self.limit_now);
    }

    #[inline]
    pub(crate) fn admit(&mut self, level: usize) {
        self.inflight += 1;
        self.window.saw_inflight(self.inflight);
        self.admitted[level] += 1;
    }
}

pub(crate) fn priority_label(p: Priority) -> &'static str {
    ["low", "normal", "high", "urgent", "critical"][p.index()]
}

impl Inner {
    pub(crate) fn reject(&self, reason: RejectReason, priority: Priority, retry_after: Option<Duration>) -> Rejected {
        metrics::counter!("perfstack_admission_rejected_total", "controller" => self.name.clone(),
            "reason" => reason.as_str(), "priority" => priority_label(priority))
        .increment(1);
        self.rejected[reason.index()][priority.index()].fetch_add(1, Ordering::Relaxed);
        Rejected::new(reason, priority, retry_after)
    }

    /// Frees a slot: feeds the sample, closes a due window, hands the slot to a waiter.
    pub(crate) fn release(this: &Arc<Inner>, start: Duration, outcome: Outcome) {
        let now = this.clock.now();
        let rtt = now.saturating_sub(start);
        let mut closed: Option<(Sample, usize, usize)> = None;
        {
            let mut core = this.core.lock();
            core.inflight = core.inflight.saturating_sub(1);
            if outcome != Outcome::Ignore {
                core.window.add(rtt, outcome == Outcome::Dropped);
            }
            if let Some(sample) = core.window.close_if_due(now, &this.window) {
                let new = core.limit.update(&sample);
                core.set_limit(new, &this.shares);
                core.window = Window::new(now, core.inflight);
                core.windows += 1;
                core.last_rtt = sample.rtt;
                closed = Some((sample, core.limit_now, core.inflight));
            }
            if core.queue.len() > 0 {
                Self::hand_off(this, &mut core, now);
            }
        }
        if let Some((sample, limit, inflight)) = closed {
            this.window_closed(&sample, limit, inflight);
        }
    }

    /// Gives free slots to the most important waiters that are still waiting.
    pub(crate) fn hand_off(this: &Arc<Inner>, core: &mut Core, now: Duration) {
        let tokio_now = tokio::time::Instant::now();
        let shed = this.shed_levels.load(Ordering::Relaxed);
        while let Some(level) = core.queue.top_level() {
            if core.inflight >= core.caps[level.index()] || level.index() < shed {
                break;
            }
            let Some(w) = core.queue.pop(level) else { break };
            if w.until <= tokio_now || w.tx.is_closed() {
                continue; // its own timer reports the deadline
            }
            core.admit(level.index());
            // Ignore until the waiter takes it, so a permit lost in the channel is no sample.
            let permit =
                Permit { inner: Arc::clone(this), start: now, priority: level, outcome: Outcome::Ignore, armed: true };
            if let Err(Ok(mut lost)) = w.tx.send(Ok(permit)) {
                lost.armed = false;
                core.inflight -= 1;
                core.admitted[level.index()] -= 1;
            }
        }
    }

    fn window_closed(&self, sample: &Sample, limit: usize, inflight: usize) {
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
