use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::error::Error;
use crate::fallback::{BoxFut, Fallback};

/// Answers with a [`Fallback`] when the inner stack fails: a downstream error, an open
/// breaker, a timeout, a full bulkhead or a throttled call, as the inner stack's [`Error`]
/// says. [`Fallback::when`] selects the errors it answers; the others pass through untouched.
///
/// The inner service's error must be an [`Error<E>`], as the other layers of this crate return
/// (wrap a bare service with `tower::ServiceExt::map_err(Error::Inner)`). Put it outermost:
/// every clone of the layer and of its services shares one fallback (and its
/// [`used`](Fallback::used) count).
///
/// # Examples
///
/// ```
/// use perfstack_resilience::layer::{BreakerLayer, FallbackLayer};
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
    fallback: Fallback<T, E>,
}

impl<T, E> Clone for FallbackLayer<T, E> {
    fn clone(&self) -> Self {
        Self { fallback: self.fallback.clone() }
    }
}

impl<T, E> FallbackLayer<T, E> {
    /// A layer for `fallback`.
    #[must_use]
    pub fn new(fallback: Fallback<T, E>) -> Self {
        Self { fallback }
    }

    /// The shared fallback.
    pub fn fallback(&self) -> &Fallback<T, E> {
        &self.fallback
    }
}

impl<S, T, E> Layer<S> for FallbackLayer<T, E> {
    type Service = FallbackService<S, T, E>;

    fn layer(&self, inner: S) -> Self::Service {
        FallbackService { inner, fallback: self.fallback.clone() }
    }
}

/// The service made by [`FallbackLayer`].
#[derive(Debug)]
pub struct FallbackService<S, T, E> {
    inner: S,
    fallback: Fallback<T, E>,
}

impl<S: Clone, T, E> Clone for FallbackService<S, T, E> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), fallback: self.fallback.clone() }
    }
}

impl<S, T, E> FallbackService<S, T, E> {
    /// The shared fallback.
    pub fn fallback(&self) -> &Fallback<T, E> {
        &self.fallback
    }
}

impl<S, Req, T, E> Service<Req> for FallbackService<S, T, E>
where
    S: Service<Req, Response = T, Error = Error<E>>,
{
    type Response = T;
    type Error = Error<E>;
    type Future = FallbackFuture<S::Future, T, E>;

    /// Readiness errors pass through: a fallback answers calls, there is no call yet.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        FallbackFuture { fut: self.inner.call(req), fallback: Some(self.fallback.clone()), serving: None }
    }
}

pin_project! {
    /// Response future of [`FallbackService`]: the inner call, then (on a selected error) the
    /// fallback's answer. A success allocates nothing.
    pub struct FallbackFuture<F, T, E> {
        #[pin]
        fut: F,
        fallback: Option<Fallback<T, E>>,
        serving: Option<BoxFut<T, E>>,
    }
}

impl<F, T, E> std::fmt::Debug for FallbackFuture<F, T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FallbackFuture").field("serving", &self.serving.is_some()).finish_non_exhaustive()
    }
}

impl<F, T, E> Future for FallbackFuture<F, T, E>
where
    F: Future<Output = Result<T, Error<E>>>,
{
    type Output = Result<T, Error<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(serving) = this.serving.as_mut() {
            return serving.as_mut().poll(cx);
        }
        let e = match std::task::ready!(this.fut.poll(cx)) {
            Ok(v) => return Poll::Ready(Ok(v)),
            Err(e) => e,
        };
        let Some(fallback) = this.fallback.take() else { return Poll::Ready(Err(e)) };
        match fallback.recover(e) {
            Ok(serving) => this.serving.insert(serving).as_mut().poll(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}
