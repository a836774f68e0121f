//! The bulkhead service's response future: the inner call holding its slot, or the boxed
//! wait for one.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::bulkhead::BulkheadPermit;
use crate::error::Error;

/// A call waiting in the bulkhead's queue, then running in its slot.
type Waiting<T, E> = Pin<Box<dyn Future<Output = Result<T, Error<E>>> + Send>>;

pin_project! {
    /// Response future of [`Bulkhead`](super::Bulkhead).
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, T, E> {
        #[pin]
        fut: Option<F>,
        permit: Option<BulkheadPermit>,
        waiting: Option<Waiting<T, E>>,
    }
}

impl<F, T, E> ResponseFuture<F, T, E> {
    pub(super) fn admitted(fut: F, permit: BulkheadPermit) -> Self {
        Self { fut: Some(fut), permit: Some(permit), waiting: None }
    }

    pub(super) fn waiting(waiting: Waiting<T, E>) -> Self {
        Self { fut: None, permit: None, waiting: Some(waiting) }
    }
}

impl<F, T, E> std::fmt::Debug for ResponseFuture<F, T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").field("waiting", &self.waiting.is_some()).finish_non_exhaustive()
    }
}

impl<F, T, E> Future for ResponseFuture<F, T, E>
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
