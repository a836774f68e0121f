use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use super::{clamp, Snapshot, FAIL, SLOW};

const FIELD: u64 = 0xFFFF;

/// Outcomes of the last `buckets × bucket_nanos` of time. Each bucket is one `AtomicU64`
/// (16-bit tick tag and three 16-bit counters, updated by compare-and-swap); running sums make
/// reads O(1), and expired buckets are swept once per tick by whichever thread sees the tick
/// change first. A bucket saturates at 65 535 calls: further calls in that bucket are not
/// sampled, which keeps the rates of the sampled calls.
#[derive(Debug)]
pub(crate) struct TimeWindow {
    buckets: Box<[AtomicU64]>,
    bucket_nanos: u64,
    last_tick: AtomicU64,
    calls: AtomicI64,
    failed: AtomicI64,
    slow: AtomicI64,
}

fn pack(tag: u64, calls: u64, failed: u64, slow: u64) -> u64 {
    (tag & FIELD) << 48 | (calls & FIELD) << 32 | (failed & FIELD) << 16 | (slow & FIELD)
}

fn unpack(w: u64) -> (u64, u64, u64, u64) {
    (w >> 48, (w >> 32) & FIELD, (w >> 16) & FIELD, w & FIELD)
}

impl TimeWindow {
    pub(crate) fn new(buckets: u32, bucket_nanos: u64) -> Self {
        Self {
            buckets: (0..buckets.max(1)).map(|_| AtomicU64::new(0)).collect(),
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
        let tag = tick & FIELD;
        let mut w = b.load(Ordering::Acquire);
        loop {
            let (t, c, f, s) = unpack(w);
            let (new, evicted) = if t == tag {
                if c == FIELD {
                    return None;
                }
                (pack(tag, c + 1, f + df, s + ds), (0, 0, 0))
            } else {
                (pack(tag, 1, df, ds), (c, f, s))
            };
            match b.compare_exchange_weak(w, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    self.apply(1, df, ds, evicted);
                    break;
                }
                Err(cur) => w = cur,
            }
        }
        let snap = self.snapshot_now();
        (bits != 0 || snap.calls == min_calls).then_some(snap)
    }

    fn apply(&self, c: u64, f: u64, s: u64, evicted: (u64, u64, u64)) {
        let d = |add: u64, sub: u64| i64::try_from(add).unwrap_or(0) - i64::try_from(sub).unwrap_or(0);
        let (dc, dfl, dsl) = (d(c, evicted.0), d(f, evicted.1), d(s, evicted.2));
        if dc != 0 {
            self.calls.fetch_add(dc, Ordering::AcqRel);
        }
        if dfl != 0 {
            self.failed.fetch_add(dfl, Ordering::AcqRel);
        }
        if dsl != 0 {
            self.slow.fetch_add(dsl, Ordering::AcqRel);
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
                let (t, c, f, s) = unpack(w);
                let live = !all_stale && live_tick.is_some_and(|lt| t == lt & FIELD);
                if live || c == 0 {
                    break;
                }
                match b.compare_exchange_weak(w, pack(t, 0, 0, 0), Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => {
                        self.apply(0, 0, 0, (c, f, s));
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
            let (_, c, f, s) = unpack(old);
            self.apply(0, 0, 0, (c, f, s));
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

    /// Under concurrent writers and a moving clock, the running sums always equal the sum of
    /// the buckets' counters once the writers stop (each bucket change is accounted once).
    #[test]
    fn concurrent_writers_and_sweeps_keep_sums_exact() {
        use std::sync::atomic::AtomicU64 as Now;
        use std::sync::Arc;
        let w = Arc::new(TimeWindow::new(8, 1_000));
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
            let (_, bc, bf, bs) = unpack(b.load(Ordering::Relaxed));
            c += bc;
            f += bf;
            s += bs;
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
        assert_eq!(w.snapshot(10_500 + 65_536 * 1_000).calls, 0);
    }
}
