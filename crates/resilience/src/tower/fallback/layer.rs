//! [`FallbackLayer`]: answers in place of the inner stack's selected errors.

use tower_layer::Layer;

use super::service::Fallback;

/// Answers with a [`Fallback`](crate::Fallback) when the inner stack fails: a downstream
/// error, an open breaker, a timeout, a full bulkhead or a throttled call, as the inner stack's
/// [`Error`](crate::Error) says. [`Fallback::when`](crate::Fallback::when) selects the errors
/// it answers; the others pass through untouched.
///
/// The inner service's error must be an [`Error<E>`](crate::Error), as the other layers of this
/// crate return (wrap a bare service with `tower::ServiceExt::map_err(Error::Inner)`). Put it
/// outermost: every clone of the layer and of its services shares one fallback (and its
/// [`used`](crate::Fallback::used) count).
///
/// # Examples
///
/// ```
/// use perfstack_resilience::tower::{BreakerLayer, FallbackLayer};
/// use perfstack_resilience::{CircuitBreaker, Error, Fallback};
/// use tower::{ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let breaker = CircuitBreaker::builder("prices").build().unwrap();
/// breaker.force_open();
/// let svc = ServiceBuilder::new()
///     .layer(FallbackLayer::new(Fallback::value(0_u64).when(|e: &Error<std::io::Error>| e.is_rejection())))
///     .layer(BreakerLayer::new(breaker))
///     .service_fn(|sku: u64| async move { Ok::<_, std::io::Error>(sku * 100) });
/// assert_eq!(svc.oneshot(7).await.unwrap(), 0, "open breaker: the fallback answers");
/// # }
/// ```
#[derive(Debug)]
pub struct FallbackLayer<T, E> {
    fallback: crate::Fallback<T, E>,
}

impl<T, E> Clone for FallbackLayer<T, E> {
    fn clone(&self) -> Self {
        Self { fallback: self.fallback.clone() }
    }
}

impl<T, E> FallbackLayer<T, E> {
    /// A layer for `fallback`.
    #[must_use]
    pub fn new(fallback: crate::Fallback<T, E>) -> Self {
        Self { fallback }
    }

    /// The shared fallback.
    pub fn fallback(&self) -> &crate::Fallback<T, E> {
        &self.fallback
    }
}

impl<S, T, E> Layer<S> for FallbackLayer<T, E> {
    type Service = Fallback<S, T, E>;

    fn layer(&self, inner: S) -> Self::Service {
        Fallback::new(inner, self.fallback.clone())
    }
}
