//! The state every clone of a controller shares, and its plain readings. The admission
//! decision is in `decision.rs`, the release in `release.rs`, the overload readings in
//! `signals.rs`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::queue::WaitQueue;
use super::window::{Window, WindowPolicy};
use super::{Outcome, PriorityShares};
use crate::clock::Clock;
use crate::limit::Limit;
use crate::overload::OverloadSignal;
use crate::rate::{KeyedRateLimit, RateLimit};

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
/// One request in flight, in `slots`.
pub(super) const ONE: u64 = 1;
/// One request admitted, in `slots`.
pub(super) const ONE_ADMITTED: u64 = 1 << 24;

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
}
