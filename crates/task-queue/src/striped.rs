//! Counters spread over cache lines by thread, so that threads counting the same event do not
//! bounce one cache line between cores (a contended atomic costs tens of nanoseconds per
//! increment; a pool counts several events per task). Reads sum the stripes.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};

const STRIPES: usize = 8;

/// One value on its own cache line (128 bytes: adjacent-line prefetch pairs 64-byte lines).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Line<T>(pub(crate) T);

static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static STRIPE: usize = NEXT_STRIPE.fetch_add(1, Relaxed) % STRIPES;
}

/// This thread's stripe.
fn stripe() -> usize {
    STRIPE.try_with(|s| *s).unwrap_or(0)
}

/// A monotonic event count.
#[derive(Debug, Default)]
pub(crate) struct Counter {
    lines: [Line<AtomicU64>; STRIPES],
}

impl Counter {
    pub(crate) fn add(&self, n: u64) {
        self.lines[stripe()].0.fetch_add(n, Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.lines.iter().map(|l| l.0.load(Relaxed)).fold(0, u64::wrapping_add)
    }
}

/// A value that goes up and down (things in flight); increments and decrements may land on
/// different stripes, only the sum means anything.
#[derive(Debug, Default)]
pub(crate) struct Gauge {
    lines: [Line<AtomicI64>; STRIPES],
}

impl Gauge {
    pub(crate) fn add(&self, n: i64) {
        self.lines[stripe()].0.fetch_add(n, Relaxed);
    }

    pub(crate) fn get(&self) -> usize {
        let sum = self.lines.iter().map(|l| l.0.load(Relaxed)).fold(0i64, i64::wrapping_add);
        usize::try_from(sum).unwrap_or(0)
    }
}

/// Per-stripe arrays of `N` counts (histogram buckets).
#[derive(Debug)]
pub(crate) struct Buckets<const N: usize> {
    lines: [Line<[AtomicU64; N]>; STRIPES],
}

impl<const N: usize> Default for Buckets<N> {
    fn default() -> Self {
        Self { lines: std::array::from_fn(|_| Line(std::array::from_fn(|_| AtomicU64::new(0)))) }
    }
}

impl<const N: usize> Buckets<N> {
    pub(crate) fn add(&self, i: usize) {
        self.lines[stripe()].0[i.min(N - 1)].fetch_add(1, Relaxed);
    }

    pub(crate) fn counts(&self) -> [u64; N] {
        let mut out = [0u64; N];
        for l in &self.lines {
            for (o, c) in out.iter_mut().zip(&l.0) {
                *o = o.wrapping_add(c.load(Relaxed));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn sums_across_threads() {
        let c = Arc::new(Counter::default());
        let g = Arc::new(Gauge::default());
        let b = Arc::new(Buckets::<4>::default());
        let handles: Vec<_> = (0..12)
            .map(|_| {
                let (c, g, b) = (Arc::clone(&c), Arc::clone(&g), Arc::clone(&b));
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        c.add(1);
                        g.add(1);
                        b.add(i % 6);
                    }
                    for _ in 0..400 {
                        g.add(-1);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap_or_else(|_| panic!("thread panicked"));
        }
        assert_eq!(c.get(), 12_000);
        assert_eq!(g.get(), 12 * 600);
        // i % 6 in 0..6 lands in buckets 0..=3, the last bucket taking 3, 4 and 5.
        let per = |n: u64| 12 * n;
        assert_eq!(b.counts(), [per(167), per(167), per(167), per(499)]);
    }
}
