//! Errors returned by the cache.

use std::sync::Arc;

/// A boxed error from a user's loader.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong in a cache call.
///
/// Redis trouble never shows up here: an L2 failure is counted and the cache carries on with
/// L1 and the loader. The error is `Clone` because one failed load is handed to every caller
/// that waited for it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The key is empty.
    #[error("cache key is empty")]
    EmptyKey,
    /// The key is longer than the configured limit.
    #[error("cache key is {len} bytes, the limit is {max}")]
    KeyTooLong {
        /// Length of the key in bytes.
        len: usize,
        /// Configured limit (`max_key_bytes`).
        max: usize,
    },
    /// The key starts with a prefix the cache reserves for itself (`"\0echo-probe:"`).
    #[error("cache keys may not start with the reserved prefix {0:?}")]
    ReservedKey(&'static str),
    /// The encoded value is larger than the configured limit.
    #[error("encoded value is {len} bytes, the limit is {max}")]
    ValueTooLarge {
        /// Encoded length in bytes.
        len: usize,
        /// Configured limit (`max_value_bytes`).
        max: usize,
    },
    /// The value could not be encoded by the codec.
    #[error("cannot encode value: {0}")]
    Encode(String),
    /// `get_or_load` was called on a cache built without a loader.
    #[error("no loader configured for cache {0:?}")]
    NoLoader(String),
    /// The loader failed; every caller that waited for this load gets the same error.
    #[error("loader failed for key {key:?}: {source}")]
    Load {
        /// The key being loaded.
        key: String,
        /// The loader's error.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The load ran longer than `load_timeout`; every caller that waited for it gets this,
    /// and the next caller starts a new load.
    #[error("load of key {key:?} did not finish within {after:?}")]
    LoadTimeout {
        /// The key being loaded.
        key: String,
        /// The configured `load_timeout`.
        after: std::time::Duration,
    },
    /// The detached load task panicked or was aborted.
    #[error("load task for key {0:?} ended without a result")]
    LoadAborted(String),
}

/// An error talking to the second tier. Counted, logged, never returned to callers of
/// [`crate::TieredCache`]; public because [`crate::Tier`] implementations return it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TierError {
    /// The circuit breaker is open: the call was not attempted.
    #[error("circuit breaker open")]
    BreakerOpen,
    /// The call took longer than the configured timeout.
    #[error("L2 call timed out")]
    Timeout,
    /// The backend returned an error.
    #[error("L2 backend error: {0}")]
    Backend(String),
    /// The store answered, but what it holds under the key is not a cache entry (in Redis: a
    /// key of another type, e.g. a list). A problem of that key only: the cache counts it
    /// as corrupt, reads it as a miss (a load then overwrites it), and the circuit breaker
    /// records a success.
    #[error("L2 entry is not a cache entry: {0}")]
    Corrupt(String),
}

/// Why bytes read from L2 could not be turned into a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer bytes than a header.
    #[error("entry is {0} bytes, shorter than the header")]
    Truncated(usize),
    /// The magic bytes do not match: not written by this crate.
    #[error("foreign bytes (bad magic)")]
    BadMagic,
    /// A header format this version does not understand.
    #[error("unsupported header format version {0}")]
    UnsupportedVersion(u8),
    /// The entry was written with a different codec.
    #[error("codec mismatch: entry uses codec {found}, this cache uses {expected}")]
    CodecMismatch {
        /// Codec id in the entry header.
        found: u8,
        /// Codec id of this cache.
        expected: u8,
    },
    /// The payload could not be decoded.
    #[error("payload does not decode: {0}")]
    Payload(String),
    /// The payload is larger than this cache's `max_value_bytes` (written by an instance with
    /// a larger limit): not promoted into L1, whose budget assumes the limit.
    #[error("payload is {len} bytes, the limit is {max}")]
    TooLarge {
        /// Payload length in bytes (after the header).
        len: usize,
        /// Configured limit (`max_value_bytes`).
        max: usize,
    },
}
