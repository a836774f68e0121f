//! The breaker's state word: state, half-open probe counters and generation in one `AtomicU64`,
//! so every transition and every probe admission is a single compare-and-swap.

use serde::{Deserialize, Serialize};

/// The state of a circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum State {
    /// Calls flow; outcomes are recorded in the sliding window.
    Closed,
    /// Calls are refused until the open duration has passed.
    Open,
    /// A fixed number of probe calls are let through to test the downstream.
    HalfOpen,
    /// Refused by an operator until [`reset`](crate::CircuitBreaker::reset).
    ForcedOpen,
    /// Let through by an operator; outcomes are not recorded and it never trips.
    ForcedClosed,
    /// Switched off: every call passes and nothing is recorded.
    Disabled,
}

impl State {
    /// The snake-case name used in metrics labels and events.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
            Self::ForcedOpen => "forced_open",
            Self::ForcedClosed => "forced_closed",
            Self::Disabled => "disabled",
        }
    }

    /// The value of the `perfstack_resilience_breaker_state` gauge: 0 closed, 1 open, 2 half-open,
    /// 3 forced open, 4 forced closed, 5 disabled.
    #[must_use]
    pub const fn gauge_value(self) -> f64 {
        self.code() as f64
    }

    pub(crate) const fn code(self) -> u64 {
        match self {
            Self::Closed => 0,
            Self::Open => 1,
            Self::HalfOpen => 2,
            Self::ForcedOpen => 3,
            Self::ForcedClosed => 4,
            Self::Disabled => 5,
        }
    }

    pub(crate) const fn from_code(code: u64) -> Self {
        match code {
            0 => Self::Closed,
            1 => Self::Open,
            2 => Self::HalfOpen,
            3 => Self::ForcedOpen,
            4 => Self::ForcedClosed,
            _ => Self::Disabled,
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Largest number of half-open probes (8-bit counters in the word).
pub(crate) const MAX_PROBES: u32 = 255;

const STATE_BITS: u32 = 4;
const FIELD_BITS: u32 = 8;
const ISSUED_SHIFT: u32 = STATE_BITS;
const DONE_SHIFT: u32 = ISSUED_SHIFT + FIELD_BITS;
const FAILED_SHIFT: u32 = DONE_SHIFT + FIELD_BITS;
const SLOW_SHIFT: u32 = FAILED_SHIFT + FIELD_BITS;
const GEN_SHIFT: u32 = SLOW_SHIFT + FIELD_BITS; // 36
const FIELD_MASK: u64 = (1 << FIELD_BITS) - 1;
const STATE_MASK: u64 = (1 << STATE_BITS) - 1;
pub(crate) const GEN_MASK: u64 = (1 << (64 - GEN_SHIFT)) - 1;

/// Decoded state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word {
    pub(crate) state: State,
    /// Half-open probes handed out (and not released).
    pub(crate) issued: u32,
    /// Half-open probes that reported an outcome.
    pub(crate) done: u32,
    /// Of those, failures.
    pub(crate) failed: u32,
    /// Of those, slow calls.
    pub(crate) slow: u32,
    /// Incremented on every transition; permits carry it so stale outcomes are ignored.
    pub(crate) generation: u64,
}

impl Word {
    pub(crate) fn new(state: State, generation: u64) -> Self {
        Self { state, issued: 0, done: 0, failed: 0, slow: 0, generation: generation & GEN_MASK }
    }

    pub(crate) fn pack(self) -> u64 {
        self.state.code()
            | (u64::from(self.issued) & FIELD_MASK) << ISSUED_SHIFT
            | (u64::from(self.done) & FIELD_MASK) << DONE_SHIFT
            | (u64::from(self.failed) & FIELD_MASK) << FAILED_SHIFT
            | (u64::from(self.slow) & FIELD_MASK) << SLOW_SHIFT
            | (self.generation & GEN_MASK) << GEN_SHIFT
    }

    pub(crate) fn unpack(w: u64) -> Self {
        let field = |shift: u32| u32::try_from((w >> shift) & FIELD_MASK).unwrap_or(0);
        Self {
            state: State::from_code(w & STATE_MASK),
            issued: field(ISSUED_SHIFT),
            done: field(DONE_SHIFT),
            failed: field(FAILED_SHIFT),
            slow: field(SLOW_SHIFT),
            generation: w >> GEN_SHIFT,
        }
    }

    /// The state `to` at the next generation, with fresh counters.
    pub(crate) fn next(self, to: State) -> Self {
        Self::new(to, self.generation.wrapping_add(1))
    }
}

/// The state only, from a packed word (the closed fast path).
#[inline]
pub(crate) fn state_of(w: u64) -> State {
    State::from_code(w & STATE_MASK)
}

/// The generation only, from a packed word.
#[inline]
pub(crate) fn generation_of(w: u64) -> u64 {
    w >> GEN_SHIFT
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn word_round_trips(state in 0u64..6, issued in 0u32..256, done in 0u32..256, failed in 0u32..256, slow in 0u32..256, generation in 0u64..=GEN_MASK) {
            let w = Word { state: State::from_code(state), issued, done, failed, slow, generation };
            prop_assert_eq!(Word::unpack(w.pack()), w);
            prop_assert_eq!(state_of(w.pack()), w.state);
            prop_assert_eq!(generation_of(w.pack()), generation);
        }
    }

    #[test]
    fn generation_wraps_without_touching_state() {
        let w = Word::new(State::Open, GEN_MASK).next(State::HalfOpen);
        assert_eq!(w.generation, 0);
        assert_eq!(Word::unpack(w.pack()).state, State::HalfOpen);
    }
}
