//! A memory tier with test hooks, so each test says only what differs (a hang, a failure, a
//! pause, deafness) and every other call keeps `MemoryTier`'s real semantics (versions,
//! leases, events).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use perfstack_tiered_cache::{EventSink, MemoryTier, Tier, TierError, WriteToken};

/// Which tier call a hook runs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Get,
    Set,
    Invalidate,
    InvalidatePrefix,
    TryLease,
    SetWithLease,
    ReleaseLease,
    WriteToken,
    SetIfUnchanged,
    GetMeta,
    SetMeta,
}

/// What a test changes. Every hook defaults to "nothing".
#[async_trait]
pub trait Hooks: Send + Sync + 'static {
    /// Runs before the call; an error is returned instead of calling the memory tier.
    async fn before(&self, call: Call, key: &str) -> Result<(), TierError> {
        let _ = (call, key);
        Ok(())
    }
    /// Runs after the memory tier answered, before the answer is returned.
    async fn after(&self, call: Call, key: &str) {
        let _ = (call, key);
    }
    /// Where the tier's events go; by default the memory tier delivers them.
    fn attach(&self, inner: &MemoryTier, sink: EventSink) {
        inner.attach(sink);
    }
}

/// A [`MemoryTier`] whose calls pass through `H`.
pub struct Hooked<H> {
    pub inner: Arc<MemoryTier>,
    pub hooks: H,
}

impl<H: Hooks> Hooked<H> {
    pub fn new(inner: Arc<MemoryTier>, hooks: H) -> Arc<Self> {
        Arc::new(Hooked { inner, hooks })
    }

    async fn run<T, F>(&self, call: Call, key: &str, f: F) -> Result<T, TierError>
    where
        F: std::future::Future<Output = Result<T, TierError>>,
    {
        self.hooks.before(call, key).await?;
        let r = f.await;
        self.hooks.after(call, key).await;
        r
    }
}

#[async_trait]
impl<H: Hooks> Tier for Hooked<H> {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, TierError> {
        self.run(Call::Get, key, self.inner.get(key)).await
    }
    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), TierError> {
        self.run(Call::Set, key, self.inner.set(key, value, ttl)).await
    }
    async fn invalidate(&self, keys: &[String]) -> Result<(), TierError> {
        let key = keys.first().map_or("", String::as_str);
        self.run(Call::Invalidate, key, self.inner.invalidate(keys)).await
    }
    async fn invalidate_prefix(&self, prefix: &str) -> Result<u64, TierError> {
        self.run(Call::InvalidatePrefix, prefix, self.inner.invalidate_prefix(prefix)).await
    }
    async fn try_lease(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, TierError> {
        self.run(Call::TryLease, key, self.inner.try_lease(key, token, ttl)).await
    }
    async fn set_with_lease(
        &self,
        key: &str,
        token: &str,
        value: Bytes,
        ttl: Duration,
        versions: WriteToken,
    ) -> Result<bool, TierError> {
        self.run(Call::SetWithLease, key, self.inner.set_with_lease(key, token, value, ttl, versions)).await
    }
    async fn release_lease(&self, key: &str, token: &str) -> Result<(), TierError> {
        self.run(Call::ReleaseLease, key, self.inner.release_lease(key, token)).await
    }
    async fn write_token(&self, key: &str) -> Result<WriteToken, TierError> {
        self.run(Call::WriteToken, key, self.inner.write_token(key)).await
    }
    async fn set_if_unchanged(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
        token: WriteToken,
    ) -> Result<bool, TierError> {
        self.run(Call::SetIfUnchanged, key, self.inner.set_if_unchanged(key, value, ttl, token)).await
    }
    async fn get_meta(&self, name: &str) -> Result<Option<Bytes>, TierError> {
        self.run(Call::GetMeta, name, self.inner.get_meta(name)).await
    }
    async fn set_meta(&self, name: &str, value: Bytes) -> Result<(), TierError> {
        self.run(Call::SetMeta, name, self.inner.set_meta(name, value)).await
    }
    fn attach(&self, sink: EventSink) {
        self.hooks.attach(&self.inner, sink);
    }
}
