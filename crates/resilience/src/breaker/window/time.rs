//! The time-based window: outcomes in tick-tagged buckets, swept once per tick.

use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use super::{clamp, Snapshot, FAIL, SLOW};

/// One 16-bit counter.
const FIELD: u64 = 0xFFFF;
/// Tick tag bits (the tick modulo 2^13).
const TAG_BITS: u32 = 13;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
/// Largest sampling scale: a bucket samples one call in 2^scale.
const MAX_SCALE: u64 = 7;

/// Outcomes of the last `buckets × bucket_nanos` of time. Each bucket is one `AtomicU64`
/// (a 13-bit tick tag, a 3-bit sampling scale and three 16-bit counters, updated by
/// compare-and-swap); running sums make reads O(1), and expired buckets are swept once per
/// tick by whichever thread sees the tick change first.
///
/// # Past 65 535 calls in one bucket
///
/// A call that finds its bucket's counters full halves all three (a 50 % sample of the calls so
/// far) and doubles the bucket's scale; from then on the bucket counts each call with
/// probability 2^-scale, and it weighs `count × 2^scale` in the running sums. So every call of
/// the tick is sampled with the same probability, and the window's counts, failure rate and
/// slow-call rate stay unbiased estimates (a few tenths of a percent of noise at most) at any
/// call rate, up to 2^7 × 65 535 ≈ 8.4 million calls per bucket. Beyond that the bucket keeps
/// halving at scale 7, which favours its most recent calls. (The previous design dropped every
/// call past 65 535, so a burst of failures after 65 535 successes was never counted.)
#[derive(Debug)]
pub(crate) struct TimeWindow {
    buckets: Box<[AtomicU64]>,
    bucket_nanos: u64,
    last_tick: AtomicU64,
    calls: AtomicI64,
    failed: AtomicI64,
    slow: AtomicI64,
}

fn pack(tag: u64, scale: u64, calls: u64, failed: u64, slow: u64) -> u64 {
    (tag & TAG_MASK) << 51 | (scale & 7) << 48 | (calls & FIELD) << 32 | (failed & FIELD) << 16 | (slow & FIELD)
}

/// `(tag, scale, calls, failed, slow)`.
fn unpack(w: u64) -> (u64, u64, u64, u64, u64) {
    (w >> 51, (w >> 48) & 7, (w >> 32) & FIELD, (w >> 16) & FIELD, w & FIELD)
}

/// What a bucket word adds to the running sums: its counters times 2^scale.
fn weight(w: u64) -> [i64; 3] {
    let (_, k, c, f, s) = unpack(w);
    [c, f, s].map(|v| i64::try_from(v << k).unwrap_or(i64::MAX))
}

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// A cheap per-thread random number (splitmix64), only drawn by buckets past 65 535 calls.
fn random() -> u64 {
    RNG.with(|c| {
        let mut x = c.get();
        if x == 0 {
            x = (c as *const Cell<u64> as u64) ^ 0x9E37_79B9_7F4A_7C15;
        }
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        c.set(x);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

impl TimeWindow {
    /// The most buckets a window may have (checked by every configuration that builds one).
    /// Tags are the tick modulo 2^13, so a window must stay under 8 192 buckets for a bucket's
    /// tag to tell its live tick from the one a window earlier; 4 096 keeps the allocation
    /// (32 KiB) and the sweep per tick small.
    pub(crate) const MAX_BUCKETS: u32 = 4_096;

    pub(crate) fn new(buckets: u32, bucket_nanos: u64) -> Self {
        // The configurations refuse more buckets; the clamp only bounds the allocation.
        const _: () = assert!((TimeWindow::MAX_BUCKETS as u64) < (1 << TAG_BITS));
        let buckets = buckets.clamp(1, Self::MAX_BUCKETS);
        Self {
            buckets: (0..buckets).map(|_| AtomicU64::new(0)).collect(),
            bucket_nanos: bucket_nanos.max(1),
            last_tick: AtomicU64::new(0),
            calls: AtomicI64::new(0),
            failed: AtomicI64::new(0),
            slow: AtomicI64::new(0),
        }
    }

    fn len(&self) -> u64 {
        self.buckets.len() as u64
    }

    fn bucket(&self, tick: u64) -> &AtomicU64 {
        &self.buckets[usize::try_from(tick % self.len()).unwrap_or(0)]
    }

    pub(crate) fn record(&self, now: u64, bits: u8, min_calls: u64) -> Option<Snapshot> {
        let tick = now / self.bucket_nanos;
        self.advance(tick);
        let (df, ds) = (u64::from(bits & FAIL != 0), u64::from(bits & SLOW != 0));
        let b = self.bucket(tick);
        let tag = tick & TAG_MASK;
        let mut draw: Option<u64> = None;
        let mut w = b.load(Ordering::Acquire);
        loop {
            let (t, k, c, f, s) = unpack(w);
            let new = if t != tag {
                pack(tag, 0, 1, df, ds)
            } else if c == FIELD {
                // Full: keep a 50 % sample of the calls so far and sample half as often from now.
                let k2 = (k + 1).min(MAX_SCALE);
                pack(tag, k2, c / 2 + 1, f / 2 + df, s / 2 + ds)
            } else if k > 0 && *draw.get_or_insert_with(random) & ((1 << k) - 1) != 0 {
                // Not in this bucket's sample.
                break;
            } else {
                pack(tag, k, c + 1, f + df, s + ds)
            };
            match b.compare_exchange_weak(w, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    self.apply(w, new);
                    break;
                }
                Err(cur) => w = cur,
            }
        }
        let snap = self.snapshot_now();
        (bits != 0 || snap.calls == min_calls).then_some(snap)
    }

    /// Moves the running sums by what the bucket change `old → new` changed in its weight.
    fn apply(&self, old: u64, new: u64) {
        let (o, n) = (weight(old), weight(new));
        for (sum, d) in [&self.calls, &self.failed, &self.slow].into_iter().zip([n[0] - o[0], n[1] - o[1], n[2] - o[2]])
        {
            if d != 0 {
                sum.fetch_add(d, Ordering::AcqRel);
            }
        }
    }

    /// Sweeps buckets that fell out of the window since the last tick seen.
    fn advance(&self, tick: u64) {
        let last = self.last_tick.load(Ordering::Acquire);
        if tick <= last || self.last_tick.compare_exchange(last, tick, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return;
        }
        let all_stale = tick - last >= self.len();
        for j in 0..self.len() {
            // The only tick in (tick - len, tick] that maps to bucket j.
            let live_tick = tick.checked_sub(((tick % self.len()) + self.len() - j) % self.len());
            let b = &self.buckets[usize::try_from(j).unwrap_or(0)];
            let mut w = b.load(Ordering::Acquire);
            loop {
                let (t, _, c, _, _) = unpack(w);
                let live = !all_stale && live_tick.is_some_and(|lt| t == lt & TAG_MASK);
                if live || c == 0 {
                    break;
                }
                let new = pack(t, 0, 0, 0, 0);
                match b.compare_exchange_weak(w, new, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => {
                        self.apply(w, new);
                        break;
                    }
                    Err(cur) => w = cur,
                }
            }
        }
    }

    fn snapshot_now(&self) -> Snapshot {
        Snapshot {
            calls: clamp(self.calls.load(Ordering::Acquire)),
            failed: clamp(self.failed.load(Ordering::Acquire)),
            slow: clamp(self.slow.load(Ordering::Acquire)),
        }
    }

    pub(crate) fn snapshot(&self, now: u64) -> Snapshot {
        self.advance(now / self.bucket_nanos);
        self.snapshot_now()
    }

    pub(crate) fn clear(&self) {
        for b in self.buckets.iter() {
            let old = b.swap(0, Ordering::AcqRel);
            self.apply(old, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Running sums equal a naive recount of outcomes whose tick is within the window.
        #[test]
        fn sums_match_naive_recount(buckets in 1u32..12, steps in proptest::collection::vec((0u64..3, 0u8..4), 1..300)) {
            let w = TimeWindow::new(buckets, 10);
            let mut now = 0u64;
            let mut history: Vec<(u64, u8)> = Vec::new();
            for (dt_ticks, bits) in steps {
                now += dt_ticks * 7; // moves by less or more than a bucket
                w.record(now, bits, 1);
                history.push((now / 10, bits));
            }
            let tick = now / 10;
            let live: Vec<u8> = history.iter().filter(|(t, _)| *t + u64::from(buckets) > tick).map(|(_, b)| *b).collect();
            let snap = w.snapshot(now);
            prop_assert_eq!(snap.calls, live.len() as u64);
            prop_assert_eq!(snap.failed, live.iter().filter(|b| *b & FAIL != 0).count() as u64);
            prop_assert_eq!(snap.slow, live.iter().filter(|b| *b & SLOW != 0).count() as u64);
        }
    }

    /// Past 65 535 calls in one bucket the failure rate stays right: a burst of failures after
    /// 100 000 successes in the same tick is counted (the old bucket dropped it, rate 0).
    #[test]
    fn a_full_bucket_keeps_the_failure_rate() {
        let w = TimeWindow::new(4, 1_000);
        for _ in 0..100_000 {
            w.record(10, 0, 1);
        }
        for _ in 0..100_000 {
            w.record(10, FAIL, 1);
        }
        let snap = w.snapshot(10);
        let rate = snap.failed as f64 / snap.calls as f64;
        assert!((rate - 0.5).abs() < 0.02, "failure rate {rate} from {snap:?}");
        assert!((snap.calls as f64 / 200_000.0 - 1.0).abs() < 0.03, "calls estimate {snap:?}");
        let [c, f, _] = weight(w.bucket(0).load(Ordering::Acquire));
        assert_eq!((snap.calls, snap.failed), (c as u64, f as u64), "the running sums follow the halving");
        // 300 000 more failures: the true rate is 400 000 / 500 000.
        for _ in 0..300_000 {
            w.record(10, FAIL, 1);
        }
        let snap = w.snapshot(10);
        let rate = snap.failed as f64 / snap.calls as f64;
        assert!((rate - 0.8).abs() < 0.02, "failure rate {rate} from {snap:?}");
    }

    /// Under concurrent writers and a moving clock, the running sums always equal the sum of
    /// the buckets' counters once the writers stop (each bucket change is accounted once).
    #[test]
    fn concurrent_writers_and_sweeps_keep_sums_exact() {
        concurrent_sums(8, 1_000);
        // Buckets of ~100 000 calls: halvings and sampling race with writers and sweeps.
        concurrent_sums(2, 100_000 * 7 / 4);
    }

    fn concurrent_sums(buckets: u32, bucket_nanos: u64) {
        use std::sync::atomic::AtomicU64 as Now;
        use std::sync::Arc;
        let w = Arc::new(TimeWindow::new(buckets, bucket_nanos));
        let now = Arc::new(Now::new(0));
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let (w, now) = (w.clone(), now.clone());
                std::thread::spawn(move || {
                    for k in 0..50_000u64 {
                        let at = if t == 0 { now.fetch_add(7, Ordering::Relaxed) } else { now.load(Ordering::Relaxed) };
                        w.record(at, if (k + t) % 3 == 0 { FAIL } else { 0 } | if k % 5 == 0 { SLOW } else { 0 }, 1);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().ok();
        }
        let (mut c, mut f, mut s) = (0, 0, 0);
        for b in w.buckets.iter() {
            let [bc, bf, bs] = weight(b.load(Ordering::Relaxed));
            c += bc as u64;
            f += bf as u64;
            s += bs as u64;
        }
        let snap = w.snapshot_now();
        assert_eq!((snap.calls, snap.failed, snap.slow), (c, f, s));
    }

    #[test]
    fn idle_window_empties() {
        let w = TimeWindow::new(10, 1_000);
        for _ in 0..5 {
            w.record(500, FAIL, 100);
        }
        assert_eq!(w.snapshot(9_999).failed, 5);
        assert_eq!(w.snapshot(10_000).calls, 0);
        // Long idle (tag collision distance) still empties.
        w.record(10_500, 0, 100);
        assert_eq!(w.snapshot(10_500 + 8_192 * 1_000).calls, 0);
    }
}
