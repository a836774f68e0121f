//! Recent primary-call latencies and their cached quantile, for the observed hedge delay.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// Recent latencies in a lock-free ring of the last `CAP` samples; the wanted quantile is
/// recomputed every `EVERY` samples (every sample while there are fewer than `WARMUP`) by the
/// thread whose sample lands on that turn, and cached in an atomic, so reading the hedge delay
/// is one load and recording one `fetch_add` plus one store. A recomputation copies the ring
/// into a reused per-thread buffer (no allocation after the first) and is skipped, not waited
/// for, when another thread is already doing one.
#[derive(Debug)]
pub(crate) struct LatencyTracker {
    ring: Box<[AtomicU64]>,
    next: AtomicUsize,
    busy: AtomicBool,
    cached: AtomicU64,
    quantile: f64,
}

const CAP: usize = 512;
const EVERY: usize = 64;
const WARMUP: usize = 32;

thread_local! {
    static SCRATCH: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

impl LatencyTracker {
    pub(crate) fn new(quantile: f64) -> Self {
        Self {
            ring: (0..CAP).map(|_| AtomicU64::new(0)).collect(),
            next: AtomicUsize::new(0),
            busy: AtomicBool::new(false),
            cached: AtomicU64::new(0),
            quantile,
        }
    }

    pub(crate) fn record(&self, nanos: u64) {
        let i = self.next.fetch_add(1, Ordering::AcqRel);
        self.ring[i % CAP].store(nanos.max(1), Ordering::Release);
        let n = i + 1;
        if (n < WARMUP || n.is_multiple_of(EVERY)) && !self.busy.swap(true, Ordering::AcqRel) {
            self.recompute(n.min(CAP));
            self.busy.store(false, Ordering::Release);
        }
    }

    fn recompute(&self, filled: usize) {
        let v = SCRATCH.with(|s| {
            let Ok(mut buf) = s.try_borrow_mut() else { return None };
            buf.clear();
            // A slot still 0 was claimed but not yet written: leave it out.
            buf.extend(self.ring[..filled].iter().map(|a| a.load(Ordering::Acquire)).filter(|&x| x != 0));
            if buf.is_empty() {
                return None;
            }
            let k = ((buf.len() as f64 - 1.0) * self.quantile).round() as usize;
            let k = k.min(buf.len() - 1);
            let (_, v, _) = buf.select_nth_unstable(k);
            Some(*v)
        });
        if let Some(v) = v {
            self.cached.store(v, Ordering::Release);
        }
    }

    /// The cached quantile in nanoseconds; 0 before any sample.
    pub(crate) fn quantile_nanos(&self) -> u64 {
        self.cached.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_of_the_last_samples() {
        let t = LatencyTracker::new(0.9);
        for v in 1..=100u64 {
            t.record(v);
        }
        // The last update was at the warm-up or at sample 64: p90 of 1..=64 is 58.
        assert_eq!(t.quantile_nanos(), 58);
        for _ in 0..CAP {
            t.record(1_000);
        }
        assert_eq!(t.quantile_nanos(), 1_000, "old samples leave the ring");
    }

    #[test]
    fn concurrent_records_keep_a_plausible_quantile() {
        let t = std::sync::Arc::new(LatencyTracker::new(0.5));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || {
                    for k in 0..20_000u64 {
                        t.record(100 + k % 2);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().ok();
        }
        assert!((100..=101).contains(&t.quantile_nanos()));
    }
}
