//! A hasher for task ids: ids are sequential integers chosen by the queue (not by an
//! attacker), so one multiply spreads them well and costs far less than SipHash.

use std::hash::{BuildHasherDefault, Hasher};

/// Fibonacci hashing of one integer.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_i64(&mut self, n: i64) {
        #[allow(clippy::cast_sign_loss)]
        let n = n as u64;
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// `HashMap<i64 | TaskId, V, IdHash>`.
pub(crate) type IdHash = BuildHasherDefault<IdHasher>;
