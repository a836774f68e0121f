//! The third tier: the user's source of truth.

use std::future::Future;
use std::marker::PhantomData;

use async_trait::async_trait;

use crate::error::BoxError;

/// Loads a value from the source of truth (usually a database). `Ok(None)` means "not
/// found" and is cached as such for the negative TTL.
#[async_trait]
pub trait Loader<V>: Send + Sync + 'static {
    /// Loads the value of `key`.
    async fn load(&self, key: &str) -> Result<Option<V>, BoxError>;
}

/// A [`Loader`] made from an async closure; see [`loader_fn`].
pub struct FnLoader<F, V> {
    f: F,
    _v: PhantomData<fn() -> V>,
}

impl<F, V> std::fmt::Debug for FnLoader<F, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnLoader")
    }
}

/// Wraps an async closure `Fn(String) -> Future<Output = Result<Option<V>, BoxError>>` as a
/// [`Loader`].
///
/// # Examples
///
/// ```
/// use perfstack_tiered_cache::{loader_fn, BoxError};
/// let loader = loader_fn(|key: String| async move { Ok::<_, BoxError>(Some(key.len())) });
/// # let _ = loader;
/// ```
pub fn loader_fn<V, F, Fut>(f: F) -> FnLoader<F, V>
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<V>, BoxError>> + Send + 'static,
{
    FnLoader { f, _v: PhantomData }
}

#[async_trait]
impl<V, F, Fut> Loader<V> for FnLoader<F, V>
where
    V: Send + 'static,
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<V>, BoxError>> + Send + 'static,
{
    async fn load(&self, key: &str) -> Result<Option<V>, BoxError> {
        (self.f)(key.to_owned()).await
    }
}

#[async_trait]
impl<V, L> Loader<V> for std::sync::Arc<L>
where
    V: 'static,
    L: Loader<V> + ?Sized,
{
    async fn load(&self, key: &str) -> Result<Option<V>, BoxError> {
        (**self).load(key).await
    }
}
