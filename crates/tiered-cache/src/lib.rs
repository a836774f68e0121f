#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod cache;
mod codec;
mod config;
mod error;
mod l1;
mod l2;
mod loader;
mod stats;
mod ttl;

pub use cache::{PrefixInvalidation, Propagation, TieredCache, TieredCacheBuilder};
pub use codec::{Codec, JsonCodec, PostcardCodec};
pub use config::{Config, LeaseConfig};
pub use error::{BoxError, CacheError, CodecError, ConfigError, DecodeError, TierError};
pub use l2::{EventSink, MemoryStore, MemoryTier, Tier, TierEvent, WriteToken};
pub use loader::{loader_fn, FnLoader, Loader};
pub use stats::CacheStats;

#[cfg(test)]
mod tests {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn handles_are_send_sync_and_clone() {
        assert_send_sync::<crate::TieredCache<String>>();
        assert_send_sync::<crate::MemoryStore>();
    }
}
