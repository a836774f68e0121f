//! The breaker's shared state and its transitions. Closed path: one atomic load to admit, and
//! one ring-slot swap (plus a counter bump) to record; no lock anywhere.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crossbeam_utils::CachePadded;

use super::events::{Listener, Reason, StateChange, WeakListener};
use super::state::{generation_of, state_of, State, Word};
use super::window::{Snapshot, Window, FAIL, SLOW};
use crate::backoff::Backoff;
use crate::clock::{duration_nanos, SharedClock};
use crate::counter::LazyCounter;

/// What a finished call reports to the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The call succeeded (it may still count as slow).
    Success,
    /// The call failed.
    Failure,
    /// The call neither succeeded nor failed as far as the breaker is concerned (for example a
    /// 4xx answer or a cancelled call): nothing is recorded, a half-open probe slot is freed.
    Ignore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PermitKind {
    Closed,
    Probe,
    /// Forced closed or disabled: nothing to record.
    Pass,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct PermitCore {
    pub(crate) generation: u64,
    pub(crate) kind: PermitKind,
    pub(crate) started: u64,
}

/// Thresholds with the float maths done once.
#[derive(Debug)]
pub(crate) struct Thresholds {
    pub(crate) failure_rate: f64,
    pub(crate) slow_rate: f64,
    pub(crate) slow_nanos: Option<u64>,
    pub(crate) min_calls: u64,
    pub(crate) probes: u32,
    pub(crate) needs_time: bool,
}

pub(crate) struct Inner {
    pub(crate) word: CachePadded<AtomicU64>,
    pub(crate) window: Window,
    pub(crate) th: Thresholds,
    pub(crate) open_until: AtomicU64,
    pub(crate) consecutive_opens: AtomicU32,
    pub(crate) open_schedule: Arc<dyn Backoff>,
    pub(crate) rejected: AtomicU64,
    /// Registered on the first rejection (after a recorder is normally installed), so a
    /// rejection costs no key building or allocation.
    pub(crate) rejected_counter: LazyCounter,
    pub(crate) stale: AtomicU64,
    pub(crate) transitions: AtomicU64,
    pub(crate) clock: SharedClock,
    pub(crate) listeners: Vec<Listener>,
    /// Listeners added after build by other policies (a `DegradationManager`), held weakly so
    /// a dropped watcher leaves no cycle; dead ones are pruned on the next change.
    pub(crate) watchers: parking_lot::Mutex<Vec<WeakListener>>,
    pub(crate) name: Arc<str>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.name)
            .field("state", &state_of(self.word.load(Ordering::Relaxed)))
            .field("thresholds", &self.th)
            .finish_non_exhaustive()
    }
}

/// A refusal: where the breaker stood and when it may admit again.
pub(crate) struct Refusal {
    pub(crate) retry_after: Option<Duration>,
}

impl Inner {
    #[inline]
    pub(crate) fn acquire(&self) -> Result<PermitCore, Refusal> {
        let w = self.word.load(Ordering::Acquire);
        if state_of(w) == State::Closed {
            let started = if self.th.needs_time { self.clock.now_nanos() } else { 0 };
            return Ok(PermitCore { generation: generation_of(w), kind: PermitKind::Closed, started });
        }
        self.acquire_slow(w)
    }

    #[cold]
    fn acquire_slow(&self, mut w: u64) -> Result<PermitCore, Refusal> {
        loop {
            let word = Word::unpack(w);
            match word.state {
                State::Closed => {
                    let started = if self.th.needs_time { self.clock.now_nanos() } else { 0 };
                    return Ok(PermitCore { generation: word.generation, kind: PermitKind::Closed, started });
                }
                State::ForcedClosed | State::Disabled => {
                    return Ok(PermitCore { generation: word.generation, kind: PermitKind::Pass, started: 0 });
                }
                State::ForcedOpen => return Err(self.refuse(None)),
                State::Open => {
                    let now = self.clock.now_nanos();
                    let until = self.open_until.load(Ordering::Acquire);
                    if now < until {
                        return Err(self.refuse(Some(Duration::from_nanos(until - now))));
                    }
                    // The thread that moves the breaker to half-open takes the first probe.
                    let mut next = word.next(State::HalfOpen);
                    next.issued = 1;
                    match self.word.compare_exchange(w, next.pack(), Ordering::AcqRel, Ordering::Acquire) {
                        Ok(_) => {
                            self.announce(State::Open, next, Reason::OpenDurationElapsed);
                            return Ok(PermitCore {
                                generation: next.generation,
                                kind: PermitKind::Probe,
                                started: now,
                            });
                        }
                        Err(cur) => w = cur,
                    }
                }
                State::HalfOpen => {
                    if word.issued >= self.th.probes {
                        return Err(self.refuse(None));
                    }
                    let next = Word { issued: word.issued + 1, ..word };
                    match self.word.compare_exchange(w, next.pack(), Ordering::AcqRel, Ordering::Acquire) {
                        Ok(_) => {
                            let started = self.clock.now_nanos();
                            return Ok(PermitCore { generation: word.generation, kind: PermitKind::Probe, started });
                        }
                        Err(cur) => w = cur,
                    }
                }
            }
        }
    }

    /// Refuses (and counts the refusal) when [`acquire`](Self::acquire) would refuse now, but
    /// takes nothing: no half-open probe, no transition, no start time. For a caller that must
    /// wait before it acquires (in a bulkhead queue), so a refused call fails fast and a
    /// waiting call holds nothing.
    pub(crate) fn precheck(&self) -> Result<(), Refusal> {
        let word = Word::unpack(self.word.load(Ordering::Acquire));
        match word.state {
            State::Closed | State::ForcedClosed | State::Disabled => Ok(()),
            State::ForcedOpen => Err(self.refuse(None)),
            State::Open => {
                let (now, until) = (self.clock.now_nanos(), self.open_until.load(Ordering::Acquire));
                if now < until {
                    Err(self.refuse(Some(Duration::from_nanos(until - now))))
                } else {
                    Ok(())
                }
            }
            State::HalfOpen if word.issued >= self.th.probes => Err(self.refuse(None)),
            State::HalfOpen => Ok(()),
        }
    }

    fn refuse(&self, retry_after: Option<Duration>) -> Refusal {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        self.rejected_counter.increment();
        Refusal { retry_after }
    }

    /// Records a permit's outcome (`None` when the permit was dropped without one).
    #[inline]
    pub(crate) fn finish(&self, p: PermitCore, outcome: Option<Outcome>) {
        match p.kind {
            PermitKind::Pass => {}
            PermitKind::Closed => {
                let Some(outcome) = outcome.filter(|o| *o != Outcome::Ignore) else { return };
                let w = self.word.load(Ordering::Acquire);
                if w & 0xF != State::Closed.code() || generation_of(w) != p.generation {
                    // Started before the breaker opened: must not count in the new episode.
                    self.stale.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                let now = if self.th.needs_time { self.clock.now_nanos() } else { 0 };
                let bits = self.bits(outcome, p.started, now);
                if let Some(snap) = self.window.record(now, bits, self.th.min_calls) {
                    self.evaluate_closed(w, snap);
                }
            }
            PermitKind::Probe => self.finish_probe(p, outcome),
        }
    }

    #[inline]
    fn bits(&self, outcome: Outcome, started: u64, now: u64) -> u8 {
        let mut bits = if outcome == Outcome::Failure { FAIL } else { 0 };
        if let Some(slow) = self.th.slow_nanos {
            if now.saturating_sub(started) >= slow {
                bits |= SLOW;
            }
        }
        bits
    }

    fn tripped(&self, calls: u64, failed: u64, slow: u64) -> Option<Reason> {
        if calls == 0 {
            return None;
        }
        let c = calls as f64;
        if failed as f64 * 100.0 >= self.th.failure_rate * c {
            Some(Reason::FailureRate)
        } else if self.th.slow_nanos.is_some() && slow as f64 * 100.0 >= self.th.slow_rate * c {
            Some(Reason::SlowCallRate)
        } else {
            None
        }
    }

    #[cold]
    fn evaluate_closed(&self, w: u64, snap: Snapshot) {
        if snap.calls < self.th.min_calls {
            return;
        }
        if let Some(reason) = self.tripped(snap.calls, snap.failed, snap.slow) {
            self.open(w, reason);
        }
    }

    fn finish_probe(&self, p: PermitCore, outcome: Option<Outcome>) {
        let now = self.clock.now_nanos();
        let mut w = self.word.load(Ordering::Acquire);
        loop {
            let word = Word::unpack(w);
            if word.state != State::HalfOpen || word.generation != p.generation {
                self.stale.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let next = match outcome {
                None | Some(Outcome::Ignore) => Word { issued: word.issued.saturating_sub(1), ..word },
                Some(o) => {
                    let bits = self.bits(o, p.started, now);
                    Word {
                        done: word.done + 1,
                        failed: word.failed + u32::from(bits & FAIL != 0),
                        slow: word.slow + u32::from(bits & SLOW != 0),
                        ..word
                    }
                }
            };
            let n = u64::from(self.th.probes);
            // Open as soon as the probes already failed decide it; close when all are in.
            let verdict = match self.tripped(n, u64::from(next.failed), u64::from(next.slow)) {
                Some(_) => Some(State::Open),
                None if next.done >= self.th.probes => Some(State::Closed),
                None => None,
            };
            let Some(to) = verdict else {
                match self.word.compare_exchange(w, next.pack(), Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => return,
                    Err(cur) => {
                        w = cur;
                        continue;
                    }
                }
            };
            let ok = match to {
                State::Open => self.open(w, Reason::ProbesFailed),
                _ => self.close(w, Reason::ProbesSucceeded),
            };
            if ok {
                return;
            }
            w = self.word.load(Ordering::Acquire);
        }
    }

    /// Moves from the exact word `w` to open. False if `w` is no longer current.
    fn open(&self, w: u64, reason: Reason) -> bool {
        let from = Word::unpack(w);
        let opens = self.consecutive_opens.load(Ordering::Acquire).saturating_add(1);
        let wait = self.open_schedule.delay(opens).unwrap_or(Duration::from_secs(30));
        // Written before the state, so any reader that sees this open episode sees its end.
        self.open_until.store(self.clock.now_nanos().saturating_add(duration_nanos(wait)), Ordering::Release);
        let next = from.next(State::Open);
        if self.word.compare_exchange(w, next.pack(), Ordering::AcqRel, Ordering::Acquire).is_err() {
            return false;
        }
        self.consecutive_opens.store(opens, Ordering::Release);
        self.announce(from.state, next, reason);
        true
    }

    fn close(&self, w: u64, reason: Reason) -> bool {
        let from = Word::unpack(w);
        // Cleared before closing, so the new closed episode starts with an empty window.
        self.window.clear();
        let next = from.next(State::Closed);
        if self.word.compare_exchange(w, next.pack(), Ordering::AcqRel, Ordering::Acquire).is_err() {
            return false;
        }
        self.consecutive_opens.store(0, Ordering::Release);
        self.announce(from.state, next, reason);
        true
    }

    /// Operator transition to `to`, whatever the current state.
    pub(crate) fn force(&self, to: State) {
        if to == State::Closed {
            self.window.clear();
            self.consecutive_opens.store(0, Ordering::Release);
        }
        let mut w = self.word.load(Ordering::Acquire);
        loop {
            let from = Word::unpack(w);
            let next = from.next(to);
            match self.word.compare_exchange(w, next.pack(), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    self.announce(from.state, next, Reason::Manual);
                    return;
                }
                Err(cur) => w = cur,
            }
        }
    }

    fn announce(&self, from: State, to: Word, reason: Reason) {
        self.transitions.fetch_add(1, Ordering::Relaxed);
        let name = self.name.clone();
        metrics::gauge!("perfstack_resilience_breaker_state", "name" => name.clone()).set(to.state.gauge_value());
        metrics::counter!("perfstack_resilience_breaker_transitions_total", "name" => name, "from" => from.as_str(), "to" => to.state.as_str())
            .increment(1);
        tracing::info!(breaker = %self.name, from = from.as_str(), to = to.state.as_str(), generation = to.generation, ?reason, "circuit breaker state change");
        // Upgraded outside the lock's scope of the calls, so a watcher may touch this breaker.
        let watchers: Vec<Listener> = {
            let mut w = self.watchers.lock();
            w.retain(|l| l.strong_count() > 0);
            w.iter().filter_map(Weak::upgrade).collect()
        };
        if !self.listeners.is_empty() || !watchers.is_empty() {
            let change = StateChange { name: self.name.clone(), from, to: to.state, generation: to.generation, reason };
            for l in self.listeners.iter().chain(&watchers) {
                l(&change);
            }
        }
    }
}
