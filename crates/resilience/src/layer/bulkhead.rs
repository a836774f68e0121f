use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::BoxResponseFuture;
use crate::bulkhead::{Bulkhead, BulkheadPermit};
use crate::error::Error;

/// Caps concurrent calls across every clone of the service with a shared [`Bulkhead`].
///
/// A free slot is taken without allocation; when full, the call waits in the bulkhead's queue
/// (boxed future) or is refused at once.
#[derive(Debug, Clone)]
pub struct BulkheadLayer {
    bulkhead: Bulkhead,
}

impl BulkheadLayer {
    /// A layer for `bulkhead`.
    #[must_use]
    pub fn new(bulkhead: Bulkhead) -> Self {
        Self { bulkhead }
    }
}

impl<S> Layer<S> for BulkheadLayer {
    type Service = BulkheadService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BulkheadService { inner, bulkhead: self.bulkhead.clone() }
    }
}

/// The service made by [`BulkheadLayer`].
#[derive(Debug, Clone)]
pub struct BulkheadService<S> {
    inner: S,
    bulkhead: Bulkhead,
}

impl<S> BulkheadService<S> {
    /// The shared bulkhead.
    pub fn bulkhead(&self) -> &Bulkhead {
        &self.bulkhead
    }
}

impl<S, Req> Service<Req> for BulkheadService<S>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Send + 'static,
    Req: Send + 'static,
{
    type Response = S::Response;
    type Error = Error<S::Error>;
    type Future = BulkheadFuture<S::Future, S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Error::Inner)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        if let Some(permit) = self.bulkhead.try_acquire() {
            return BulkheadFuture { fut: Some(self.inner.call(req)), permit: Some(permit), waiting: None };
        }
        // Wait for a slot; the ready clone takes the call (tower's clone-and-swap idiom).
        let clone = self.inner.clone();
        let mut svc = std::mem::replace(&mut self.inner, clone);
        let bulkhead = self.bulkhead.clone();
        let waiting: BoxResponseFuture<S::Response, Error<S::Error>> = Box::pin(async move {
            let _permit = bulkhead.acquire().await?;
            svc.call(req).await.map_err(Error::Inner)
        });
        BulkheadFuture { fut: None, permit: None, waiting: Some(waiting) }
    }
}

pin_project! {
    /// Response future of [`BulkheadService`].
    pub struct BulkheadFuture<F, T, E> {
        #[pin]
        fut: Option<F>,
        permit: Option<BulkheadPermit>,
        waiting: Option<BoxResponseFuture<T, Error<E>>>,
    }
}

impl<F, T, E> std::fmt::Debug for BulkheadFuture<F, T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkheadFuture").field("waiting", &self.waiting.is_some()).finish_non_exhaustive()
    }
}

impl<F, T, E> Future for BulkheadFuture<F, T, E>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, Error<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(fut) = this.fut.as_pin_mut() {
            let r = std::task::ready!(fut.poll(cx));
            this.permit.take();
            return Poll::Ready(r.map_err(Error::Inner));
        }
        match this.waiting.as_mut() {
            Some(w) => w.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}
