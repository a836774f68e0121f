//! Invalidation generations, per key (striped): a read that fetched a value from L2 promotes
//! it into L1 only if no invalidation of that key was applied here meanwhile, and a `set`
//! writes L1 only if nothing else touched the key while it wrote L2.
//!
//! One counter for the whole cache made every invalidation, `set` or load of *any* key stop
//! every promotion and `set` in flight; per-key counters would need a map. 64 stripes by key
//! hash plus one counter for prefix invalidations and flushes: a key's generation is the sum
//! of its stripe and the global counter, which only grow, so any bump that concerns the key
//! changes it (and an unrelated key in the same stripe, 1 in 64, only costs a skipped fill).

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

const STRIPES: usize = 64;

#[derive(Debug)]
pub(crate) struct Generations {
    all: AtomicU64,
    stripes: [AtomicU64; STRIPES],
    hasher: foldhash::fast::RandomState,
}

impl Default for Generations {
    fn default() -> Self {
        Generations {
            all: AtomicU64::new(0),
            stripes: std::array::from_fn(|_| AtomicU64::new(0)),
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

impl Generations {
    fn stripe(&self, key: &str) -> &AtomicU64 {
        &self.stripes[(self.hasher.hash_one(key) as usize) % STRIPES]
    }

    /// The generation of `key` now.
    pub(crate) fn of(&self, key: &str) -> u64 {
        self.all.load(Ordering::Acquire).wrapping_add(self.stripe(key).load(Ordering::Acquire))
    }

    /// Something about `key` changed here; returns its generation after this bump.
    pub(crate) fn bump(&self, key: &str) -> u64 {
        let stripe = self.stripe(key).fetch_add(1, Ordering::AcqRel).wrapping_add(1);
        self.all.load(Ordering::Acquire).wrapping_add(stripe)
    }

    /// Something about every key may have changed (prefix invalidation, flush).
    pub(crate) fn bump_all(&self) {
        self.all.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_moves_its_key_and_a_global_bump_moves_every_key() {
        let g = Generations::default();
        let (a, b) = (g.of("a"), g.of("b"));
        assert_eq!(g.bump("a"), a + 1);
        assert_eq!(g.of("a"), a + 1);
        g.bump_all();
        assert_eq!(g.of("a"), a + 2);
        assert_eq!(g.of("b"), b + 1 + u64::from(std::ptr::eq(g.stripe("a"), g.stripe("b"))));
    }

    #[test]
    fn keys_in_other_stripes_do_not_move() {
        let g = Generations::default();
        let other = (0..1_000).map(|i| format!("k{i}")).find(|k| !std::ptr::eq(g.stripe(k), g.stripe("a")));
        let other = other.expect("64 stripes: some key lands elsewhere");
        let before = g.of(&other);
        g.bump("a");
        assert_eq!(g.of(&other), before);
    }
}
