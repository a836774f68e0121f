//! A lock-free random source for jitter.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// A lock-free random source for jitter (SplitMix64 over an atomic counter).
///
/// Shared by every retry loop that uses a schedule; seed it for reproducible tests.
#[derive(Debug)]
pub struct Jitter {
    state: AtomicU64,
}

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

impl Jitter {
    /// A source seeded from the process's random hasher keys.
    #[must_use]
    pub fn new() -> Self {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(GAMMA);
        Self::seeded(h.finish())
    }

    /// A source with a fixed seed (deterministic in a single thread).
    #[must_use]
    pub fn seeded(seed: u64) -> Self {
        Self { state: AtomicU64::new(seed) }
    }

    /// The next 64 random bits.
    pub fn next_u64(&self) -> u64 {
        let mut z = self.state.fetch_add(GAMMA, Ordering::Relaxed).wrapping_add(GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in `[0, 1)`.
    pub fn unit(&self) -> f64 {
        // 53 random bits into the mantissa.
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

impl Default for Jitter {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for Jitter {
    fn clone(&self) -> Self {
        Self::seeded(self.next_u64())
    }
}
