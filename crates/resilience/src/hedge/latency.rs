use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Recent latencies (a ring of the last `CAP`), with the wanted quantile recomputed every
/// `EVERY` samples and cached in an atomic, so reading the hedge delay is one load.
#[derive(Debug)]
pub(crate) struct LatencyTracker {
    ring: Mutex<Ring>,
    cached: AtomicU64,
    quantile: f64,
}

#[derive(Debug)]
struct Ring {
    samples: Vec<u64>,
    next: usize,
    since_update: u32,
}

const CAP: usize = 1024;
const EVERY: u32 = 32;

impl LatencyTracker {
    pub(crate) fn new(quantile: f64) -> Self {
        Self {
            ring: Mutex::new(Ring { samples: Vec::with_capacity(CAP), next: 0, since_update: 0 }),
            cached: AtomicU64::new(0),
            quantile,
        }
    }

    pub(crate) fn record(&self, nanos: u64) {
        let mut r = self.ring.lock();
        if r.samples.len() < CAP {
            r.samples.push(nanos);
        } else {
            let i = r.next;
            r.samples[i] = nanos;
        }
        r.next = (r.next + 1) % CAP;
        r.since_update += 1;
        if r.since_update >= EVERY || r.samples.len() < usize::try_from(EVERY).unwrap_or(32) {
            r.since_update = 0;
            let mut copy = r.samples.clone();
            drop(r);
            let k = ((copy.len() as f64 - 1.0) * self.quantile).round() as usize;
            let k = k.min(copy.len().saturating_sub(1));
            let (_, v, _) = copy.select_nth_unstable(k);
            self.cached.store(*v, Ordering::Release);
        }
    }

    /// The cached quantile in nanoseconds; 0 before any sample.
    pub(crate) fn quantile_nanos(&self) -> u64 {
        self.cached.load(Ordering::Acquire)
    }
}
