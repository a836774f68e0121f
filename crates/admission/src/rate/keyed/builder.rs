//! [`KeyedRateLimitBuilder`]: checks a keyed rate limit's settings and builds it.

use std::hash::{Hash, RandomState};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use parking_lot::Mutex;

use super::handle::{Inner, KeyedRateLimit};
use super::shard::Shard;
use crate::clock::{Clock, TokioClock};
use crate::rate::Gcra;
use crate::ConfigError;

const MAX_KEYS: usize = 100_000_000;
const SHARDS: usize = 16;

/// Builds a [`KeyedRateLimit`]; every setting is checked in [`build`](Self::build).
#[derive(Debug)]
#[must_use]
pub struct KeyedRateLimitBuilder {
    pub(super) rate: f64,
    pub(super) burst: u64,
    pub(super) max_keys: usize,
    pub(super) clock: Option<Arc<dyn Clock>>,
}

impl KeyedRateLimitBuilder {
    /// Most keys remembered at once (default 100,000).
    pub fn max_keys(mut self, n: usize) -> Self {
        self.max_keys = n;
        self
    }

    /// The clock (default [`TokioClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Checks the settings and builds the limiter.
    ///
    /// # Errors
    ///
    /// A bad rate or burst ([`Gcra::per_second`]) or `max_keys` of 0 or above 10⁸.
    pub fn build<K: Hash + Eq + Clone>(self) -> Result<KeyedRateLimit<K>, ConfigError> {
        let gcra = Gcra::per_second(self.rate, self.burst)?;
        if self.max_keys == 0 || self.max_keys > MAX_KEYS {
            return Err(ConfigError::MaxKeys { got: self.max_keys, max: MAX_KEYS });
        }
        let shards = SHARDS.min(self.max_keys);
        Ok(KeyedRateLimit {
            inner: Arc::new(Inner {
                gcra,
                max_keys: self.max_keys,
                keys: AtomicUsize::new(0),
                hasher: RandomState::new(),
                shards: (0..shards).map(|_| Mutex::new(Shard::default())).collect(),
                clock: self.clock.unwrap_or_else(|| Arc::new(TokioClock::new())),
            }),
        })
    }
}
