#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Model-based property test: the lock-free breaker against a plain, single-threaded
//! reference model of the Resilience4j state machine (count window), over random sequences
//! of acquires, outcomes, cancellations, clock moves and operator actions.

use std::collections::VecDeque;
use std::time::Duration;

use perfstack_resilience::{CircuitBreaker, ManualClock, OwnedPermit, State};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Acquire,
    Record { idx: usize, fail: bool },
    Drop { idx: usize },
    Advance { ms: u64 },
    ForceOpen,
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Acquire),
        4 => (any::<usize>(), any::<bool>()).prop_map(|(idx, fail)| Op::Record { idx, fail }),
        1 => any::<usize>().prop_map(|idx| Op::Drop { idx }),
        2 => (0u64..1500).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::ForceOpen),
        1 => Just(Op::Reset),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Closed,
    Probe,
}

struct Model {
    size: usize,
    min: usize,
    threshold: f64,
    probes: u32,
    wait_ms: u64,
    state: State,
    generation: u64,
    window: VecDeque<bool>,
    open_until: u64,
    issued: u32,
    done: u32,
    failed: u32,
}

impl Model {
    fn acquire(&mut self, now: u64) -> Option<(u64, Kind)> {
        match self.state {
            State::Closed => Some((self.generation, Kind::Closed)),
            State::Open if now >= self.open_until => {
                self.to(State::HalfOpen);
                self.issued = 1;
                Some((self.generation, Kind::Probe))
            }
            State::HalfOpen if self.issued < self.probes => {
                self.issued += 1;
                Some((self.generation, Kind::Probe))
            }
            _ => None,
        }
    }

    fn to(&mut self, s: State) {
        self.state = s;
        self.generation += 1;
        self.issued = 0;
        self.done = 0;
        self.failed = 0;
    }

    fn open(&mut self, now: u64) {
        self.open_until = now + self.wait_ms;
        self.to(State::Open);
    }

    fn record(&mut self, (generation, kind): (u64, Kind), fail: bool, now: u64) {
        if generation != self.generation {
            return;
        }
        match (kind, self.state) {
            (Kind::Closed, State::Closed) => {
                self.window.push_back(fail);
                if self.window.len() > self.size {
                    self.window.pop_front();
                }
                let calls = self.window.len();
                let fails = self.window.iter().filter(|f| **f).count();
                if calls >= self.min && fails as f64 * 100.0 >= self.threshold * calls as f64 {
                    self.open(now);
                }
            }
            (Kind::Probe, State::HalfOpen) => {
                self.done += 1;
                self.failed += u32::from(fail);
                if f64::from(self.failed) * 100.0 >= self.threshold * f64::from(self.probes) {
                    self.open(now);
                } else if self.done >= self.probes {
                    self.window.clear();
                    self.to(State::Closed);
                }
            }
            _ => {}
        }
    }

    fn dropped(&mut self, (generation, kind): (u64, Kind)) {
        if kind == Kind::Probe && self.state == State::HalfOpen && generation == self.generation {
            self.issued -= 1;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn breaker_matches_the_reference_model(
        size in 1u32..12,
        min_frac in 0.0f64..1.0,
        threshold in prop_oneof![Just(50.0), Just(100.0), 1.0f64..100.0],
        probes in 1u32..5,
        ops in proptest::collection::vec(op(), 1..200),
    ) {
        let min = ((f64::from(size) * min_frac) as u32).max(1);
        let clock = ManualClock::new();
        let wait_ms = 1000;
        let breaker = CircuitBreaker::builder("model")
            .count_window(size)
            .minimum_calls(min)
            .failure_rate_threshold(threshold)
            .half_open_probes(probes)
            .wait_in_open(Duration::from_millis(wait_ms))
            .clock(clock.clone())
            .build()
            .unwrap();
        let mut model = Model {
            size: size as usize, min: min as usize, threshold, probes, wait_ms,
            state: State::Closed, generation: 0, window: VecDeque::new(), open_until: 0, issued: 0, done: 0, failed: 0,
        };
        let mut held: Vec<(OwnedPermit, (u64, Kind))> = Vec::new();
        let mut now = 0u64;
        for op in ops {
            match op {
                Op::Acquire => {
                    let real = breaker.try_acquire_owned();
                    let expected = model.acquire(now);
                    prop_assert_eq!(real.is_ok(), expected.is_some(), "admission differs in {:?}", model.state);
                    if let (Ok(p), Some(m)) = (real, expected) {
                        prop_assert_eq!(p.generation(), m.0);
                        held.push((p, m));
                    }
                }
                Op::Record { idx, fail } if !held.is_empty() => {
                    let (p, m) = held.swap_remove(idx % held.len());
                    if fail { p.failure() } else { p.success() }
                    model.record(m, fail, now);
                }
                Op::Drop { idx } if !held.is_empty() => {
                    let (p, m) = held.swap_remove(idx % held.len());
                    drop(p);
                    model.dropped(m);
                }
                Op::Advance { ms } => {
                    now += ms;
                    clock.advance(Duration::from_millis(ms));
                }
                Op::ForceOpen => {
                    breaker.force_open();
                    model.to(State::ForcedOpen);
                }
                Op::Reset => {
                    breaker.reset();
                    model.window.clear();
                    model.to(State::Closed);
                }
                _ => {}
            }
            prop_assert_eq!(breaker.state(), model.state);
            prop_assert_eq!(breaker.generation(), model.generation);
            if model.state == State::Closed {
                let s = breaker.stats();
                prop_assert_eq!(s.window_calls, model.window.len() as u64);
                prop_assert_eq!(s.window_failures, model.window.iter().filter(|f| **f).count() as u64);
            }
        }
    }
}
