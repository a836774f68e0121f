//! Epoch-tagged slots of the budget's sliding window.
//!
//! A slot word packs `(epoch, value)`: the low [`VALUE_BITS`] bits hold the slot's net token
//! value (deposits minus withdrawals, two's complement) and the high bits the tick it belongs to
//! (modulo 2^[`EPOCH_BITS`]). A slot whose epoch is old is worth nothing to the tick that lands
//! on it: that tick replaces the whole word by compare-and-swap, and only the thread whose CAS
//! succeeded takes the old value out of the balance. A write for the current tick is a CAS that
//! only succeeds while the epoch is still current, so no rotation can sweep up (and refund) a
//! withdrawal or lose a deposit of the new tick.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Bits of the signed net value (±2^39 token units: over 5 × 10^8 requests per slot).
pub(super) const VALUE_BITS: u32 = 40;
/// Bits of the epoch (the tick modulo 2^24).
const EPOCH_BITS: u32 = 64 - VALUE_BITS;
const VALUE_MASK: u64 = (1 << VALUE_BITS) - 1;
const EPOCH_MASK: u64 = (1 << EPOCH_BITS) - 1;
const VALUE_MAX: i64 = (1 << (VALUE_BITS - 1)) - 1;
const VALUE_MIN: i64 = -(1 << (VALUE_BITS - 1));

#[inline]
pub(super) fn pack(tick: u64, value: i64) -> u64 {
    ((tick & EPOCH_MASK) << VALUE_BITS) | (value as u64 & VALUE_MASK)
}

#[inline]
pub(super) fn epoch(word: u64) -> u64 {
    word >> VALUE_BITS
}

#[inline]
pub(super) fn value(word: u64) -> i64 {
    // Sign-extend the low VALUE_BITS bits.
    ((word << EPOCH_BITS) as i64) >> EPOCH_BITS
}

/// Whether a slot word is out of the window at tick `now`, for a sweeper no more than a window
/// behind the newest tick. Every legitimately live slot's tick lies within `n` ticks of `now`
/// (behind it, or ahead of it by less than the sweeper's lag); anything else is expired,
/// including a tick written by a writer stalled past the window, whatever its epoch bits
/// alias to after wrapping.
#[inline]
fn expired(word: u64, now: u64, n: u64) -> bool {
    let back = now.wrapping_sub(epoch(word)) & EPOCH_MASK;
    let ahead = epoch(word).wrapping_sub(now) & EPOCH_MASK;
    back >= n && ahead >= n
}

/// The window's slots plus the running balance (the sum of the live slots' values, give or take
/// operations in flight, which only ever make it lower).
#[derive(Debug)]
pub(super) struct Slots {
    words: Box<[AtomicU64]>,
}

impl Slots {
    pub(super) fn new(n: u32, tick: u64) -> Self {
        // Every slot starts empty and already expired relative to `tick`.
        let stale = tick.wrapping_sub(u64::from(n));
        Self { words: (0..n).map(|_| AtomicU64::new(pack(stale, 0))).collect() }
    }

    pub(super) fn len(&self) -> u64 {
        self.words.len() as u64
    }

    #[inline]
    fn word(&self, tick: u64) -> &AtomicU64 {
        &self.words[usize::try_from(tick % self.len()).unwrap_or(0)]
    }

    /// Adds `delta` to the slot of `tick`, first expiring the slot if it still holds an older
    /// tick. `last` is the budget's newest tick (never below a tick a caller read, see
    /// `Bank::tick`). Returns [`Retry::Ahead`] (and changes nothing) when `tick` has left the
    /// window meanwhile (the caller re-reads the clock), [`Retry::Full`] when the value would
    /// overflow.
    ///
    /// Since every slot's tick is at most `last` and `tick > last - n`, the slot that `tick`
    /// lands on holds either `tick` itself or an older, expired tick: the epoch bits decide
    /// which without any wrap-around ambiguity. An expired value is taken out of `balance`
    /// *before* the CAS that removes it from the slot (and put back if the CAS loses), so the
    /// balance is never transiently too high.
    #[inline]
    pub(super) fn add(&self, tick: u64, delta: i64, balance: &AtomicI64, last: &AtomicU64) -> Result<(), Retry> {
        // Fast path, inlined into the budget's callers: the slot already holds `tick` and the
        // CAS wins at once. The same checks and the same single CAS as one turn of the loop in
        // `add_contended`, which takes every other case (rotation, overflow, a lost CAS).
        let slot = self.word(tick);
        let w = slot.load(Ordering::Acquire);
        if epoch(w) == tick & EPOCH_MASK && tick + self.len() > last.load(Ordering::Acquire) {
            let v = value(w) + delta;
            if (VALUE_MIN..=VALUE_MAX).contains(&v)
                && slot.compare_exchange(w, pack(tick, v), Ordering::AcqRel, Ordering::Acquire).is_ok()
            {
                return Ok(());
            }
        }
        self.add_contended(tick, delta, balance, last)
    }

    #[inline(never)]
    fn add_contended(&self, tick: u64, delta: i64, balance: &AtomicI64, last: &AtomicU64) -> Result<(), Retry> {
        let slot = self.word(tick);
        let mut w = slot.load(Ordering::Acquire);
        loop {
            if tick + self.len() <= last.load(Ordering::Acquire) {
                return Err(Retry::Ahead);
            }
            if epoch(w) == tick & EPOCH_MASK {
                let v = value(w) + delta;
                if !(VALUE_MIN..=VALUE_MAX).contains(&v) {
                    return Err(Retry::Full);
                }
                match slot.compare_exchange_weak(w, pack(tick, v), Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => return Ok(()),
                    Err(cur) => w = cur,
                }
            } else {
                // An older tick on this index: out of the window (same index, so at least one
                // full window older).
                let old = value(w);
                if old != 0 {
                    balance.fetch_sub(old, Ordering::AcqRel);
                }
                match slot.compare_exchange_weak(w, pack(tick, delta), Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => return Ok(()),
                    Err(cur) => {
                        if old != 0 {
                            balance.fetch_add(old, Ordering::AcqRel);
                        }
                        w = cur;
                    }
                }
            }
        }
    }

    /// Empties the slot that tick `index` lands on if (and only if) its epoch is out of the
    /// window at tick `now`, taking its value out of `balance`. A slot already moved to a live
    /// tick is left alone, whatever was written to it.
    ///
    /// A sweeper whose `now` has fallen a whole window behind `last` stops: the sweepers that
    /// moved `last` on cover every index with a fresher `now`.
    pub(super) fn expire(&self, index: u64, now: u64, balance: &AtomicI64, last: &AtomicU64) {
        let n = self.len();
        let slot = self.word(index);
        let mut w = slot.load(Ordering::Acquire);
        loop {
            if now + n <= last.load(Ordering::Acquire) {
                return;
            }
            let old = value(w);
            if old == 0 || !expired(w, now, n) {
                return;
            }
            balance.fetch_sub(old, Ordering::AcqRel);
            match slot.compare_exchange_weak(w, pack(epoch(w), 0), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return,
                Err(cur) => {
                    balance.fetch_add(old, Ordering::AcqRel);
                    w = cur;
                }
            }
        }
    }
}

/// Why [`Slots::add`] did not apply a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Retry {
    /// The slot already belongs to a later tick: re-read the clock.
    Ahead,
    /// The slot's value would overflow.
    Full,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trips() {
        for (t, v) in [(0, 0), (5, -1), (1 << 30, VALUE_MAX), (7, VALUE_MIN), (u64::MAX, 123)] {
            let w = pack(t, v);
            assert_eq!(value(w), v);
            assert_eq!(epoch(w), t & EPOCH_MASK);
            assert!(!expired(w, t, 4));
        }
        assert!(!expired(pack(10, 0), 9, 4), "an epoch a little ahead of the tick is live");
        assert!(!expired(pack(EPOCH_MASK, 0), EPOCH_MASK + 3, 4), "ages wrap with the epoch");
        assert!(expired(pack(EPOCH_MASK, 0), EPOCH_MASK + 4, 4));
        assert!(expired(pack(1_000, 0), 9, 4), "far ahead: an aliased ancient epoch");
    }

    #[test]
    fn a_stale_slot_is_replaced_and_its_value_leaves_the_balance() {
        let balance = AtomicI64::new(0);
        let last = AtomicU64::new(1);
        let s = Slots::new(4, 0);
        s.add(1, 500, &balance, &last).unwrap();
        balance.fetch_add(500, Ordering::AcqRel);
        s.add(1, -200, &balance, &last).unwrap();
        balance.fetch_sub(200, Ordering::AcqRel);
        last.store(4, Ordering::Release);
        s.expire(4, 4, &balance, &last);
        s.expire(1, 4, &balance, &last);
        assert_eq!(balance.load(Ordering::Acquire), 300, "tick 1 is still live at tick 4");
        last.store(5, Ordering::Release);
        s.expire(5, 5, &balance, &last);
        assert_eq!(balance.load(Ordering::Acquire), 0);
        last.store(9, Ordering::Release);
        s.add(9, 7, &balance, &last).unwrap();
        assert_eq!(s.add(5, 1, &balance, &last), Err(Retry::Ahead), "tick 5 left the window");
        assert_eq!(s.add(9, VALUE_MAX, &balance, &last), Err(Retry::Full));
    }

    /// The interleaving behind the old overshoot: the rotation to tick 8 has moved `last_tick`
    /// but not yet emptied index 8 % 4 when a withdrawal of tick 8 lands there. The late expiry
    /// must leave the new tick's debit in place (the old code swapped it out and refunded it).
    #[test]
    fn a_late_expiry_never_sweeps_the_new_ticks_writes() {
        let balance = AtomicI64::new(0);
        let last = AtomicU64::new(1);
        let s = Slots::new(4, 0);
        s.add(4, 1_000, &balance, &last).unwrap();
        balance.fetch_add(1_000, Ordering::AcqRel);
        // Tick 8: a withdrawal of 1 000 lands first (expiring tick 4's deposit itself) ...
        balance.fetch_sub(1_000, Ordering::AcqRel);
        last.store(8, Ordering::Release);
        s.add(8, -1_000, &balance, &last).unwrap();
        // ... then the rotating thread gets to index 8 % 4.
        s.expire(8, 8, &balance, &last);
        assert_eq!(balance.load(Ordering::Acquire), -1_000, "the debit stays until tick 12");
        last.store(12, Ordering::Release);
        s.expire(12, 12, &balance, &last);
        assert_eq!(balance.load(Ordering::Acquire), 0);
    }
}
