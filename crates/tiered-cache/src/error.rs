//! Errors: of building a cache ([`ConfigError`]), of a call ([`CacheError`]), of L2
//! ([`TierError`], [`DecodeError`]) and of a codec ([`CodecError`]).

use std::sync::Arc;

/// A boxed error from a user's loader.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a cache could not be built: returned by
/// [`TieredCacheBuilder::build`](crate::TieredCacheBuilder::build).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A setting is out of range.
    #[error("invalid setting: {0}")]
    Invalid(String),
    /// The Redis invalidation listener could not be set up.
    #[error("cannot set up the Redis invalidation channel: {0}")]
    Redis(String),
}

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
    Encode(#[source] CodecError),
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
#[derive(Debug, Clone, thiserror::Error)]
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
    /// The entry was written for another key: its header's key fingerprint differs. A reply
    /// that reached the wrong command, or an entry copied under another key; never served.
    #[error("entry written for another key (key fingerprint differs)")]
    WrongKey,
    /// The payload could not be decoded.
    #[error("payload does not decode: {0}")]
    Payload(#[source] CodecError),
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

/// Why a [`Codec`](crate::Codec) could not encode or decode a value. It carries the codec's
/// own error (postcard's, serde_json's, yours) as its [`source`](std::error::Error::source)
/// and shows its message.
///
/// `Clone` (the source is shared, not copied): an encoding failure inside a load reaches every
/// caller that waited for the load, in a [`CacheError::Encode`].
///
/// # Examples
///
/// ```
/// use perfstack_tiered_cache::CodecError;
/// use std::error::Error as _;
///
/// let e = CodecError::new("3 bytes left over after the value");
/// assert_eq!(e.to_string(), "3 bytes left over after the value");
///
/// let json = serde_json::from_str::<u32>("x").unwrap_err();
/// let e = CodecError::new(json);
/// assert!(e.source().is_some_and(|s| s.is::<serde_json::Error>()));
/// ```
#[derive(Debug, Clone)]
pub struct CodecError {
    source: Arc<dyn std::error::Error + Send + Sync + 'static>,
}

impl CodecError {
    /// A codec error caused by `source`: any error type, or a message (`&str`, `String`).
    pub fn new(source: impl Into<BoxError>) -> Self {
        CodecError { source: Arc::from(source.into()) }
    }
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.source, f)
    }
}

impl std::error::Error for CodecError {
    /// The codec's own error itself (not a wrapper of it), so it can be downcast.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}
