//! The count-based window: the last `size` outcomes in a ring.

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU8, Ordering};

use crossbeam_utils::CachePadded;

use super::{clamp, Snapshot, FAIL, SLOW};

const FILLED: u8 = 4;

/// The last `size` outcomes in a ring of one byte each. The running sums are kept exact:
/// every change of a slot (by `swap`) is added to them by the thread that made it, so the sums
/// always converge to the ring's content, whatever the interleaving.
#[derive(Debug)]
pub(crate) struct CountWindow {
    slots: Box<[AtomicU8]>,
    size: u32,
    /// Lemire's fastmod multiplier for `size`: `n % size` without a division.
    magic: u64,
    /// Ring position (wraps at 2^32: one out-of-order overwrite every 4 billion calls; the
    /// sums stay exact because every slot change is accounted by its writer).
    next: CachePadded<AtomicU32>,
    calls: AtomicI64,
    failed: AtomicI64,
    slow: AtomicI64,
}

impl CountWindow {
    /// The largest window (checked by the configuration).
    pub(crate) const MAX_SIZE: u32 = 100_000;

    pub(crate) fn new(size: u32) -> Self {
        // The configuration refuses larger windows; the clamp only bounds the allocation.
        let size = size.clamp(1, Self::MAX_SIZE);
        Self {
            slots: (0..size).map(|_| AtomicU8::new(0)).collect(),
            size,
            magic: (u64::MAX / u64::from(size)).wrapping_add(1),
            next: CachePadded::new(AtomicU32::new(0)),
            calls: AtomicI64::new(0),
            failed: AtomicI64::new(0),
            slow: AtomicI64::new(0),
        }
    }

    #[inline]
    pub(crate) fn record(&self, bits: u8, min_calls: u64) -> Option<Snapshot> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let i = fastmod(n, self.magic, self.size);
        let new = FILLED | bits;
        let old = self.slots[i].swap(new, Ordering::AcqRel);
        if old == new {
            // Same outcome replaced: the sums do not change; a success cannot trip the breaker.
            return if bits == 0 { None } else { Some(self.snapshot()) };
        }
        let filled = old & FILLED == 0;
        let mut calls = None;
        if filled {
            calls = Some(self.calls.fetch_add(1, Ordering::AcqRel) + 1);
        }
        adjust(&self.failed, old & FAIL, new & FAIL);
        adjust(&self.slow, old & SLOW, new & SLOW);
        let reached_min = calls.is_some_and(|c| clamp(c) == min_calls);
        (bits != 0 || reached_min).then(|| self.snapshot())
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot {
            calls: clamp(self.calls.load(Ordering::Acquire)),
            failed: clamp(self.failed.load(Ordering::Acquire)),
            slow: clamp(self.slow.load(Ordering::Acquire)),
        }
    }

    /// Empties the ring, keeping the sums consistent with concurrent writers.
    pub(crate) fn clear(&self) {
        for slot in self.slots.iter() {
            let old = slot.swap(0, Ordering::AcqRel);
            if old & FILLED != 0 {
                self.calls.fetch_sub(1, Ordering::AcqRel);
            }
            adjust(&self.failed, old & FAIL, 0);
            adjust(&self.slow, old & SLOW, 0);
        }
    }
}

/// `n % d` for 32-bit values by two multiplications (Lemire, "Faster remainder by direct
/// computation", 2019); `magic = u64::MAX / d + 1`.
#[inline]
fn fastmod(n: u32, magic: u64, d: u32) -> usize {
    let low = magic.wrapping_mul(u64::from(n));
    ((u128::from(low) * u128::from(d)) >> 64) as usize
}

#[inline]
fn adjust(sum: &AtomicI64, old: u8, new: u8) {
    match (old != 0, new != 0) {
        (false, true) => {
            sum.fetch_add(1, Ordering::AcqRel);
        }
        (true, false) => {
            sum.fetch_sub(1, Ordering::AcqRel);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The O(1) running sums equal a naive recount of the last `size` outcomes.
        #[test]
        fn sums_match_naive_recount(size in 1u32..40, outcomes in proptest::collection::vec(0u8..4, 0..200), clear_at in proptest::option::of(0usize..200)) {
            let w = CountWindow::new(size);
            let mut history: Vec<u8> = Vec::new();
            for (k, bits) in outcomes.iter().enumerate() {
                if clear_at == Some(k) {
                    w.clear();
                    history.clear();
                    // the ring position keeps advancing; that is fine for a ring
                }
                w.record(*bits, 1);
                history.push(*bits);
            }
            let last: Vec<u8> = history.iter().rev().take(size as usize).copied().collect();
            // After a clear the ring can hold fewer than `size` entries only if fewer were written.
            let snap = w.snapshot();
            prop_assert_eq!(snap.calls, last.len() as u64);
            prop_assert_eq!(snap.failed, last.iter().filter(|b| *b & FAIL != 0).count() as u64);
            prop_assert_eq!(snap.slow, last.iter().filter(|b| *b & SLOW != 0).count() as u64);
        }
    }

    proptest! {
        #[test]
        fn fastmod_is_the_remainder(n in any::<u32>(), d in 1u32..100_000) {
            let magic = (u64::MAX / u64::from(d)).wrapping_add(1);
            prop_assert_eq!(fastmod(n, magic, d), (n % d) as usize);
        }
    }

    #[test]
    fn concurrent_writers_keep_sums_exact() {
        let w = std::sync::Arc::new(CountWindow::new(64));
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let w = w.clone();
                std::thread::spawn(move || {
                    for k in 0..20_000u32 {
                        w.record(if (k + t) % 3 == 0 { FAIL } else { 0 }, 1);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().ok();
        }
        let snap = w.snapshot();
        let recount = w.slots.iter().filter(|s| s.load(Ordering::Relaxed) & FAIL != 0).count() as u64;
        assert_eq!(snap.calls, 64);
        assert_eq!(snap.failed, recount);
    }
}
